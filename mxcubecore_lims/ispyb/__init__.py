"""ISPyB over SOAP: proposal-code handling (the zeep data adapter follows)."""
