"""A bare SAML ACS for the benchmark: python3-saml's validation and a Django login,
nothing else, built the way python3-saml's own Django demo builds it."""
