"""The signed bundle: the PDF, its signatures, and the ZIP a recipient can verify."""
