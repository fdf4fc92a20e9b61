"""Plain spatial Python for Wuwei: no Flask, no database session."""
