"""Our database backend (ENGINE "axero_idp.db", see base.py)."""
