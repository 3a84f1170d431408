"""tlslab: reproduce documented TLS handshake failures on one machine, check the symptom, verify each fix."""

__version__ = "0.1.0"
