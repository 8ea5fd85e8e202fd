"""opsapp.db.socket_readable: the liveness check of idle database connections — nothing to read
on a quiet socket, readable once the peer wrote or hung up, also for descriptors past 1,023
(which select() refuses and a busy web process has)."""

import os
import resource
import socket

import pytest

from opsapp.db import socket_readable

HIGH_FD = 1500


@pytest.fixture(params=["low", "high"])
def pair(request):
    ours, peer = socket.socketpair()
    if request.param == "high":
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft <= HIGH_FD:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, HIGH_FD + 100), hard))
        fd = os.dup2(ours.fileno(), HIGH_FD)
        ours.close()
        ours = socket.socket(fileno=fd)
        assert ours.fileno() > 1023
    yield ours, peer
    ours.close()
    peer.close()


def test_a_quiet_socket_is_not_readable(pair):
    ours, _peer = pair
    assert socket_readable(ours.fileno()) is False


def test_a_socket_the_peer_wrote_to_is_readable(pair):
    ours, peer = pair
    peer.send(b"E")
    assert socket_readable(ours.fileno()) is True


def test_a_socket_the_peer_closed_is_readable(pair):
    ours, peer = pair
    peer.close()
    assert socket_readable(ours.fileno()) is True
