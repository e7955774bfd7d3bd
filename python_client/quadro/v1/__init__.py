"""Generated protobuf messages and gRPC stubs of the `quadro.v1` API (do not edit the
`*_pb2*` files; run `python protos/generate.py`)."""
