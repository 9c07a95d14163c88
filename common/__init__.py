"""What every layer may use and that uses no other package of salesdw: the crash points of the
crash-recovery tests (faults.py)."""
