"""The gRPC face of the board: services, validation, conversions and interceptors."""
