"""The rules of the domain: plain typed functions that flush and never commit."""
