"""The service layer: plain values in, one unit of work (one transaction) per call."""
