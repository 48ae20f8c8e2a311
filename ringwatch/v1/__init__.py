"""Generated gRPC code for the ``ringwatch.v1`` API (see ``protos/ringwatch/v1/``).

Do not edit: regenerate with ``scripts/gen_protos``.
"""
