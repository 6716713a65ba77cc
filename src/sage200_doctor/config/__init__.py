"""Configuration: the SAGE200_* settings, env files, and the rotated refresh token's write-back."""
