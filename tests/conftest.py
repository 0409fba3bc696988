"""Make the tests' helper modules importable (tests/ holds no package)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
# the namespace "guests" of netguests.py serve functional tests of real VMs too
sys.path.insert(1, str(Path(__file__).parent / "integration"))
