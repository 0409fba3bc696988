"""The ``qemu`` driver: QEMU processes managed directly over QMP, no libvirt daemon."""
