"""Shared pytest setup: make the helper modules in tests/ (roracle, crosscheck_models)
importable as top-level modules, whatever pytest's import mode or the working directory."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent

if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))
