#!/usr/bin/env python3
"""End-to-end test of `meshctl deploy --ssh` against a real sshd (issue 22).

Two network namespaces made here, `mshdep<pid>a` and `mshdep<pid>b`, joined by a veth pair
with addresses of 10.214.X.0/24 (X from this process's id). In `a`: a local meshd (the
mesh to join) and the meshctl that deploys. In `b`: an OpenSSH sshd on port 22 with a
throwaway host key, accepting only a throwaway client key (both made here), run as root.
The deploy copies meshd and meshctl over scp into --remote-dir (a temp directory: the
namespaces share this machine's file system, which must stay untouched), writes the
configuration and the cluster key, starts the agent in the background (no systemd runs
here) and waits until it joins. The test then checks, from outside meshctl:

  - meshctl deploy exits 0 and its --json result says the host joined, within DEPLOY_BOUND_S;
  - the local agent lists the new agent alive at 10.214.X.2:7600;
  - the cluster key on the host has mode 0600 and the pid file names the running agent;
  - a second deploy to the same host skips it (meshd already runs there), exit 0;
  - a deploy to a port where no sshd listens fails that host, exit 1, with ssh's reason.

Nothing outside the namespaces and the temp directory is touched, except /run/sshd (the
directory sshd requires to exist). Everything is removed at the end, on failure and on
SIGINT/SIGTERM. Needs root, ip, sshd (scripts/setup.sh installs openssh-server), ssh.
Environment: MESHD_BIN_DIR (default <repository>/.build/debug) holds meshd and meshctl.
Exit: 0 passed, 1 failed; "SKIPPED: ..." and 0 when a requirement is missing.
"""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

REPO_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BIN_DIR = os.environ.get("MESHD_BIN_DIR") or os.path.join(REPO_DIR, ".build", "debug")
MESHD = os.path.join(BIN_DIR, "meshd")
MESHCTL = os.path.join(BIN_DIR, "meshctl")
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"

MESH_PORT = 7600
API = "127.0.0.1:7601"
START_BOUND_S = 30.0      # local agent start to its API answering
SSHD_BOUND_S = 10.0       # sshd start to its port accepting
DEPLOY_BOUND_S = 90.0     # meshctl deploy's --timeout for the host (a debug meshd is large)
POLL_S = 0.2

TAG = f"mshdep{os.getpid()}"
NS_A, NS_B = TAG + "a", TAG + "b"
SUBNET = f"10.214.{os.getpid() % 250}"
ADDR_A, ADDR_B = SUBNET + ".1", SUBNET + ".2"

cleanups = []


def log(msg):
    print(f"deploy-test: {msg}", flush=True)


def skip(reason):
    print(f"SKIPPED: deploy test: {reason}")
    sys.exit(0)


def run(args, check=True, timeout=30, **kw):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
    return p


def cleanup():
    while cleanups:
        fn = cleanups.pop()
        try:
            fn()
        except Exception as e:  # cleanup goes on whatever one step says
            log(f"cleanup: {e}")


def on_signal(signum, _frame):
    cleanup()
    sys.exit(128 + signum)


def kill_process(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def kill_pid_file(path):
    try:
        pid = int(open(path).read().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(POLL_S)
    os.kill(pid, signal.SIGKILL)


def make_network():
    run(["ip", "netns", "add", NS_A])
    cleanups.append(lambda: run(["ip", "netns", "del", NS_A], check=False))
    run(["ip", "netns", "add", NS_B])
    cleanups.append(lambda: run(["ip", "netns", "del", NS_B], check=False))
    run(["ip", "-n", NS_A, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", NS_B])
    for ns, dev, addr in [(NS_A, "va", ADDR_A), (NS_B, "vb", ADDR_B)]:
        run(["ip", "-n", ns, "addr", "add", addr + "/24", "dev", dev])
        run(["ip", "-n", ns, "link", "set", dev, "up"])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])


def start_sshd(work):
    host_key, client_key = os.path.join(work, "host_key"), os.path.join(work, "client_key")
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host_key])
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", client_key])
    authorized = os.path.join(work, "authorized_keys")
    shutil.copy(client_key + ".pub", authorized)
    os.chmod(authorized, 0o600)
    config = os.path.join(work, "sshd_config")
    with open(config, "w") as f:
        f.write(f"""ListenAddress {ADDR_B}
Port 22
HostKey {host_key}
PidFile {work}/sshd.pid
AuthorizedKeysFile {authorized}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
""")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    out = open(os.path.join(work, "sshd.log"), "w")
    p = subprocess.Popen(["ip", "netns", "exec", NS_B, SSHD, "-D", "-e", "-f", config], stdout=out, stderr=out)
    cleanups.append(lambda: kill_process(p))
    deadline = time.time() + SSHD_BOUND_S
    while time.time() < deadline:
        if run(["ip", "netns", "exec", NS_B, "sh", "-c", f"cat /proc/net/tcp | grep -qi ':0016 .* 0A '"], check=False).returncode == 0:
            return client_key
        if p.poll() is not None:
            break
        time.sleep(POLL_S)
    raise RuntimeError(f"sshd did not listen within {SSHD_BOUND_S} s: " + open(os.path.join(work, "sshd.log")).read()[-2000:])


def start_local_agent(work, key_file):
    data = os.path.join(work, "local")
    out = open(os.path.join(work, "local.log"), "w")
    p = subprocess.Popen(["ip", "netns", "exec", NS_A, MESHD, "--name", "local", "--bind", f"{ADDR_A}:{MESH_PORT}",
                          "--api", API, "--data-dir", data, "--cluster-key-file", key_file, "--profile", "local"],
                         stdout=out, stderr=subprocess.STDOUT)
    cleanups.append(lambda: kill_process(p))
    deadline = time.time() + START_BOUND_S
    while time.time() < deadline:
        r = meshctl(["--json", "status"], check=False)
        if r.returncode == 0:
            return
        time.sleep(POLL_S)
    raise RuntimeError(f"the local agent did not answer within {START_BOUND_S} s: " + open(os.path.join(work, "local.log")).read()[-2000:])


def meshctl(args, check=True, timeout=30):
    env = dict(os.environ, MESH_ADDR=API, NO_COLOR="1")
    env.pop("MESH_TOKEN", None)
    return run(["ip", "netns", "exec", NS_A, MESHCTL] + args, check=check, timeout=timeout, env=env)


def main():
    if os.geteuid() != 0:
        skip("not running as root")
    for tool in ["ip", "ssh", "scp", "ssh-keygen"]:
        if shutil.which(tool) is None:
            skip(f"{tool} is not installed (scripts/setup.sh installs openssh-client)")
    if not os.access(SSHD, os.X_OK):
        skip("sshd is not installed (scripts/setup.sh installs openssh-server)")
    for binary in [MESHD, MESHCTL]:
        if not os.access(binary, os.X_OK):
            print(f"deploy-test: {binary} is missing: swift build first", file=sys.stderr)
            return 1
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    work = tempfile.mkdtemp(prefix=TAG + "-")
    cleanups.append(lambda: shutil.rmtree(work, ignore_errors=True))
    remote_dir = os.path.join(work, "remote")
    cleanups.append(lambda: kill_pid_file(os.path.join(remote_dir, "data", "meshd.pid")))
    failures = []

    def check(cond, what):
        log(("ok: " if cond else "FAILED: ") + what)
        if not cond:
            failures.append(what)

    try:
        make_network()
        key_file = os.path.join(work, "cluster.key")
        with open(key_file, "w") as f:
            f.write(run([MESHCTL, "keygen"]).stdout)
        os.chmod(key_file, 0o600)
        client_key = start_sshd(work)
        start_local_agent(work, key_file)
        ssh_options = ["--ssh-option", f"IdentityFile={client_key}", "--ssh-option", "StrictHostKeyChecking=no",
                       "--ssh-option", "UserKnownHostsFile=/dev/null", "--ssh-option", "LogLevel=ERROR"]
        deploy = ["deploy", "--ssh", f"root@{ADDR_B}", "--cluster-key-file", key_file, "--remote-dir", remote_dir,
                  "--meshd", MESHD, "--meshctl", MESHCTL, "--tag", "deployed=yes", "--profile", "local",
                  "--timeout", str(int(DEPLOY_BOUND_S))] + ssh_options

        t0 = time.time()
        r = meshctl(["--json"] + deploy, check=False, timeout=DEPLOY_BOUND_S + 30)
        took = time.time() - t0
        log(f"deploy took {took:.1f} s; progress:\n" + r.stderr.rstrip())
        check(r.returncode == 0, f"meshctl deploy exits 0 (got {r.returncode})")
        results = json.loads(r.stdout) if r.stdout.strip() else []
        check(len(results) == 1 and results[0].get("result") == "joined", f"the --json result says joined: {results}")

        members = json.loads(meshctl(["--json", "members"]).stdout)
        remote = [m for m in members if m["address"] == f"{ADDR_B}:{MESH_PORT}"]
        check(len(remote) == 1 and remote[0]["status"] == "alive" and remote[0]["tags"].get("deployed") == "yes",
              f"the local agent lists the new agent alive at {ADDR_B}:{MESH_PORT} with its tag: {remote}")

        key_mode = stat.S_IMODE(os.stat(os.path.join(remote_dir, "cluster.key")).st_mode)
        check(key_mode == 0o600, f"the host's cluster key has mode 0600 (got {oct(key_mode)})")
        pid = int(open(os.path.join(remote_dir, "data", "meshd.pid")).read().strip())
        comm = open(f"/proc/{pid}/comm").read().strip() if os.path.exists(f"/proc/{pid}") else "gone"
        check(comm == "meshd", f"the pid file names the running agent (pid {pid}: {comm})")

        again = meshctl(["--json"] + deploy, check=False, timeout=DEPLOY_BOUND_S + 30)
        results = json.loads(again.stdout) if again.stdout.strip() else []
        check(again.returncode == 0 and results and results[0].get("result") == "skipped",
              f"a second deploy skips the host that runs meshd (exit {again.returncode}, {results})")

        refused = meshctl(["--json", "deploy", "--ssh", f"root@{ADDR_B}", "--cluster-key-file", key_file, "--remote-dir", remote_dir,
                           "--ssh-option", "Port=2"] + ssh_options, check=False, timeout=60)
        results = json.loads(refused.stdout) if refused.stdout.strip() else []
        check(refused.returncode == 1 and results and results[0].get("result") == "failed"
              and "refused" in results[0].get("detail", "").lower(),
              f"a host without sshd fails with ssh's reason, exit 1 (exit {refused.returncode}: {results})")
    except Exception as e:
        failures.append(str(e))
        log(f"FAILED: {e}")
        for name in ["local.log", "sshd.log", "remote/data/meshd.log"]:
            path = os.path.join(work, name)
            if os.path.exists(path):
                log(f"--- {name} (end) ---\n" + open(path).read()[-3000:])
    finally:
        cleanup()
    if failures:
        log(f"{len(failures)} check(s) failed")
        return 1
    log("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
