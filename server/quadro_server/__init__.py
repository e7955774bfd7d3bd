"""The Quadro board server: core rules, storage backends, and the gRPC services."""
