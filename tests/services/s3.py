"""S3 for the tests (tools/services/s3.py starts moto_server): one server per session, with the AWS
variables the server processes read, and a bucket of its own for each test module."""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tools.services.s3 import Bucket, MotoServer, aws_credentials, start_moto


@pytest.fixture(scope="session")
def moto(tmp_path_factory) -> Iterator[MotoServer]:
    """One moto_server for the session, with the AWS variables the server processes read."""
    with aws_credentials():
        server = start_moto(tmp_path_factory.mktemp("moto") / "moto.log")
        yield server
        server.stop()


@pytest.fixture(scope="module")
def s3_bucket(moto: MotoServer) -> Bucket:
    """A fresh bucket for each test module."""
    name = f"attache-{uuid.uuid4().hex[:12]}"
    moto.client().create_bucket(Bucket=name)
    return Bucket(moto, name)
