"""The Voilà demo server lets no one in without its token (``glmmteach demos``).

Whoever can open a Voilà page can run code in its kernel, so: a random token by default,
printed with the URL; an address beyond this machine only with ``--allow-remote`` and never
without a token; tracebacks hidden unless ``--debug``. The last test starts the real server
(two lessons, so the page is Voilà's file list and no kernel starts) and knocks without and
with the token.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from glmmteach.course import cli, demos


def test_voila_command_requires_a_token_and_hides_tracebacks(tmp_path):
    cmd = demos.voila_command(tmp_path, token="abc", port=1234, open_browser=False)
    assert "--Voila.token=abc" in cmd
    assert "--Voila.ip=127.0.0.1" in cmd
    assert "--VoilaConfiguration.show_tracebacks=False" in cmd
    assert "--no-browser" in cmd
    debug = demos.voila_command(tmp_path, token="abc", debug=True)
    assert "--VoilaConfiguration.show_tracebacks=True" in debug
    for bad in ("", None):
        with pytest.raises(ValueError, match="token must be a non-empty string"):
            demos.voila_command(tmp_path, token=bad)


@pytest.mark.parametrize("ip", ["0.0.0.0", "192.168.1.20", "::", "example.org"])
def test_an_address_beyond_loopback_needs_allow_remote(tmp_path, ip):
    assert not demos.is_loopback(ip)
    with pytest.raises(ValueError, match="allow_remote=True"):
        demos.voila_command(tmp_path, token="abc", ip=ip)
    cmd = demos.voila_command(tmp_path, token="abc", ip=ip, allow_remote=True)
    assert f"--Voila.ip={ip}" in cmd and "--Voila.token=abc" in cmd


@pytest.mark.parametrize("ip", ["127.0.0.1", "127.3.0.1", "::1", "localhost"])
def test_loopback_addresses(ip):
    assert demos.is_loopback(ip)


def test_cli_refuses_a_remote_address_without_the_flag(capsys):
    assert cli.main(["demos", "--ip", "0.0.0.0", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "--allow-remote" in err and "run code" in err
    assert cli.main(["demos", "--ip", "0.0.0.0", "--allow-remote", "--token", "",
                     "--no-browser"]) == 2
    assert "empty --token is refused" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(url: str) -> int:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as err:
        return err.code


def test_the_server_answers_only_with_its_random_token(tmp_path):
    if importlib.util.find_spec("voila") is None:
        pytest.skip("Voilà is not installed (pip install voila)")
    env = dict(os.environ)
    for var, name in (("HOME", "home"), ("JUPYTER_CONFIG_DIR", "config"),
                      ("JUPYTER_DATA_DIR", "data"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                      ("TMPDIR", "tmp"), ("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "mpl")):
        (tmp_path / name).mkdir()
        env[var] = str(tmp_path / name)
    env["PYTHONUNBUFFERED"] = "1"
    port = _free_port()
    log = open(tmp_path / "server.log", "w+")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "glmmteach.course.cli", "demos", "01", "02",
                             "--no-browser", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        url = None
        while time.monotonic() < deadline:
            text = (tmp_path / "server.log").read_text()
            found = re.search(r"at (http://127\.0\.0\.1:\d+/\?token=(\S+)) \(Ctrl-C", text)
            if found and url is None:
                url, token = found.group(1), found.group(2)
            if url:
                with contextlib.suppress(OSError):
                    if _status(url) == 200:
                        break
            assert proc.poll() is None, text[-3000:]
            time.sleep(0.5)
        else:
            pytest.fail("the demo server did not start:\n"
                        + (tmp_path / "server.log").read_text()[-3000:])
        assert len(token) >= 24  # a random token, not a guessable one
        base = f"http://127.0.0.1:{port}"
        assert _status(f"{base}/") in (302, 401, 403)
        assert _status(f"{base}/?token=wrong") in (302, 401, 403)
        assert _status(f"{base}/voila/render/01-simulating-probabilities.ipynb") in (
            302, 401, 403)
        assert _status(f"{base}/api/kernels") in (302, 401, 403, 404)
        assert _status(url) == 200
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
