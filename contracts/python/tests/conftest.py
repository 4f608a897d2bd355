"""Make the contracts in contracts/python importable as top-level modules (``import
addition``), as they import each other when run as scripts."""

from __future__ import annotations

import sys
from pathlib import Path

CONTRACTS = Path(__file__).resolve().parents[1]
if str(CONTRACTS) not in sys.path:
    sys.path.insert(0, str(CONTRACTS))
