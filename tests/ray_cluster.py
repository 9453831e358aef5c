"""A local Ray cluster for tests: a head and worker nodes via ``ray start``.

Each node is a ``ray start --block`` process in its own session, so the
cluster stops with ``stop()`` without touching any other Ray on the
machine (``ray stop`` would). The head offers no CPUs, so every task runs
on a worker node. Workers inherit this process's environment (PYTHONPATH),
so they import ``prifa_tf`` and ``tests`` as the test does.

Ray 2.60 authenticates every connection with a token, and reads the
driver's setting when ``ray`` is imported: importing this module sets a
random token in the environment (nodes and driver share it; nothing is
written to ~/.ray), so import it before ``ray``.
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


if "ray" in sys.modules:
  raise ImportError("import tests.ray_cluster before ray (see docstring)")
os.environ.setdefault("RAY_AUTH_MODE", "token")
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _ray_cli():
  return os.path.join(os.path.dirname(sys.executable), "ray")


class LocalCluster:
  """``with LocalCluster(workers=1) as c: ... c.address ...``."""

  def __init__(self, workers: int = 1, cpus_per_worker: int = 1):
    self.workers = workers
    self.cpus_per_worker = cpus_per_worker
    self.procs = []
    # Short: Ray's Unix sockets live here (108-character path limit).
    self.temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    self.port = _free_port()
    self.address = f"127.0.0.1:{self.port}"
    self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0",
                "TF_CPP_MIN_LOG_LEVEL": "2"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    self.env["PYTHONPATH"] = os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p)

  def _start(self, *args):
    # Free ports for every per-node service with a fixed default, so that
    # clusters of concurrent tests (and nodes of one machine) never clash.
    args += tuple(f"--{name}={_free_port()}" for name in (
        "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
        "runtime-env-agent-port", "metrics-export-port"))
    with open(os.path.join(self.temp, f"node{len(self.procs)}.log"),
              "w") as log:
      proc = subprocess.Popen([_ray_cli(), "start", "--block", *args],
                              env=self.env, stdout=log, stderr=log,
                              start_new_session=True)
    self.procs.append(proc)
    return proc

  def start(self):
    self._start("--head", f"--port={self.port}", "--num-cpus=0",
                "--include-dashboard=false", "--disable-usage-stats",
                f"--temp-dir={self.temp}", "--node-ip-address=127.0.0.1")
    for _ in range(self.workers):
      self.add_worker()
    return self

  def add_worker(self):
    return self._start(f"--address={self.address}",
                       f"--num-cpus={self.cpus_per_worker}",
                       "--node-ip-address=127.0.0.1")

  def wait_for_cpus(self, cpus, timeout=120):
    """Waits until the cluster (as the connected driver sees it) has
    ``cpus`` CPUs."""
    import ray  # pylint: disable=g-import-not-at-top
    deadline = time.time() + timeout
    while time.time() < deadline:
      for p in self.procs:
        if p.poll() is not None:
          raise RuntimeError(f"a Ray node exited ({p.returncode}); see "
                             f"{self.temp}/node*.log:\n{self.logs()}")
      if ray.cluster_resources().get("CPU", 0) >= cpus:
        return
      time.sleep(0.5)
    raise TimeoutError(f"Ray cluster did not reach {cpus} CPUs:\n"
                       f"{self.logs()}")

  def logs(self):
    out = []
    for name in sorted(os.listdir(self.temp)):
      if name.endswith(".log"):
        with open(os.path.join(self.temp, name)) as f:
          out.append(f"--- {name}\n{f.read()[-2000:]}")
    return "\n".join(out)

  def stop(self):
    for p in reversed(self.procs):
      if p.poll() is None:
        try:
          os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
          pass
    for p in self.procs:
      try:
        p.wait(30)
      except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(30)
    shutil.rmtree(self.temp, ignore_errors=True)

  def __enter__(self):
    return self.start()

  def __exit__(self, *exc):
    self.stop()
