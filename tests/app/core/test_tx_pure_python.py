"""Transaction decoding under the pure-Python protobuf: where no binary protobuf wheel exists,
pip installs the pure-Python implementation, which raises UnicodeDecodeError (not DecodeError)
for a string field that is not UTF-8. ProcessProposal and FinalizeBlock stop the node on any
exception but a refusal, so decoding must refuse under either implementation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.core import errors

ROOT = Path(__file__).resolve().parents[3]

_PURE_PYTHON = """
from app.core.tx import decode_envelope
from app.core.errors import TxError
from app.pb.modelgov.v1 import tx_pb2
from google.protobuf.internal import api_implementation
assert api_implementation.Type() == "python", api_implementation.Type()
raw = tx_pb2.Tx(body=b"\\x0a\\x02\\xff\\xfe", signature=b"s" * 64).SerializeToString()
try:
    decode_envelope(raw, 65536)
except TxError as err:
    print(err.error.codespace, err.error.code)
"""


def test_a_body_string_that_is_not_utf8_is_undecodable_under_pure_python_protobuf() -> None:
    """Where no binary protobuf wheel exists pip installs the pure-Python one, which raises
    UnicodeDecodeError instead of DecodeError: ProcessProposal and FinalizeBlock must still
    refuse the transaction rather than stop the node."""
    env = dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", _PURE_PYTHON],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [errors.UNDECODABLE.codespace, str(errors.UNDECODABLE.code)]
