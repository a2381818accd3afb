"""The employee pages: thin views over the domain apps' selectors."""
