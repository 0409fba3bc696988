"""Disk format inspection against real images made by ``qemu-img``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stratus.image.formats import FormatInspector, UnsafeImage

MiB = 1 << 20


def make(tmp_path: Path, name: str, fmt: str, *options: str) -> Path:
    path = tmp_path / name
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", fmt, *options, str(path), "64M"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


def inspect(path: Path, piece: int = 65536) -> FormatInspector:
    inspector = FormatInspector()
    with path.open("rb") as f:
        while block := f.read(piece):
            inspector.feed(block)
    return inspector


@pytest.mark.parametrize(
    ("fmt", "options", "declared", "virtual"),
    [
        ("qcow2", ("-o", "compat=0.10"), "qcow2", 64 * MiB),
        ("qcow2", (), "qcow2", 64 * MiB),
        ("vmdk", (), "vmdk", 64 * MiB),
        ("vmdk", ("-o", "subformat=streamOptimized"), "vmdk", 64 * MiB),
        ("vpc", (), "vhd", None),
        ("vpc", ("-o", "subformat=fixed"), "vhd", None),
        ("vdi", (), "vdi", 64 * MiB),
        ("raw", (), "raw", 64 * MiB),
    ],
)
def test_real_images_are_recognised(
    tmp_path: Path, fmt: str, options: tuple[str, ...], declared: str, virtual: int | None
) -> None:
    path = make(tmp_path, f"disk.{fmt}", fmt, *options)
    found = inspect(path).finish(declared)
    assert found.format == declared
    if virtual is not None:
        assert found.virtual_size == virtual
    else:  # VHD sizes follow a CHS geometry: at least what was asked
        assert 64 * MiB <= found.virtual_size < 65 * MiB


@pytest.mark.parametrize("declared", ["raw", "vmdk", "vdi", "iso", "ami"])
def test_a_qcow2_declared_as_anything_else_is_refused(tmp_path: Path, declared: str) -> None:
    path = make(tmp_path, "disk.qcow2", "qcow2")
    with pytest.raises(UnsafeImage, match="not the declared"):
        inspect(path).finish(declared)


def test_raw_declared_as_qcow2_is_refused(tmp_path: Path) -> None:
    path = make(tmp_path, "disk.raw", "raw")
    with pytest.raises(UnsafeImage, match="raw, not the declared disk_format qcow2"):
        inspect(path).finish("qcow2")


def test_qcow2_with_a_backing_file_is_refused(tmp_path: Path) -> None:
    base = make(tmp_path, "base.qcow2", "qcow2")
    overlay = tmp_path / "overlay.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(overlay)],
        check=True,
        timeout=60,
    )
    with pytest.raises(UnsafeImage, match="backing file"):
        inspect(overlay).finish("qcow2")


def test_qcow2_with_an_external_data_file_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data.raw"
    path = make(tmp_path, "ext.qcow2", "qcow2", "-o", f"data_file={data}")
    with pytest.raises(UnsafeImage, match="external data file"):
        inspect(path).finish("qcow2")


def test_vmdk_that_points_at_other_files_is_refused(tmp_path: Path) -> None:
    flat = make(tmp_path, "flat.vmdk", "vmdk", "-o", "subformat=monolithicFlat")
    with pytest.raises(UnsafeImage, match="descriptor"):
        inspect(flat).finish("vmdk")
    split = make(tmp_path, "split.vmdk", "vmdk", "-o", "subformat=twoGbMaxExtentSparse")
    with pytest.raises(UnsafeImage):
        inspect(split).finish("vmdk")


def test_iso_content_is_recognised_and_accepted_as_raw(tmp_path: Path) -> None:
    iso = bytearray(64 * 1024)
    iso[0x8001:0x8006] = b"CD001"
    inspector = FormatInspector()
    for at in range(0, len(iso), 1000):  # odd piece sizes
        inspector.feed(bytes(iso[at : at + 1000]))
    assert inspector.finish("iso").format == "iso"
    assert inspector.finish("raw").format == "iso"


def test_inspection_does_not_depend_on_chunking(tmp_path: Path) -> None:
    path = make(tmp_path, "fixed.vhd", "vpc", "-o", "subformat=fixed")
    assert inspect(path, 7).detect() == inspect(path, 1 << 20).detect()
