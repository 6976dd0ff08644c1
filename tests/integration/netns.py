"""
netns.py — a few "machines" on one Linux box, for tests that need more than
one host: each host is a network namespace with an eth0 on a private /24, all
plugged into one bridge that lives in a namespace of its own (so the machine's
firewall and bridge filtering never see the traffic). The root namespace, where
the test itself runs, is plugged in too, at the subnet's .1 address.

    with Net(["a", "b", "c"]) as net:
        srv = net.popen("b", ["lanes-demo", "--host", net.ip("b"), "--port", "0"])
        net.run("a", ["curl", "http://%s:%d/" % (net.ip("b"), port)])

Without root, iproute2 or the kernel's permission, it says so once
("netns unavailable: running on loopback") and every host is 127.0.0.1 and
commands run directly: a test written against this API runs either way, so
it must pick its own free ports even on separate hosts. LANES_NETNS=0 forces
the loopback fallback.

Names carry the test's pid (namespaces lanes-t<pid>-<host>, root link
lt<pid>), and the /24 is chosen among 10.213.0-255.0/24 to overlap no route
of the machine, under a lock file, so parallel runs never collide. Everything
is torn down by close() (a with block, and atexit); namespaces left behind by
a run that was SIGKILLed are removed by the next run, once their pid is gone.
It never touches an interface or namespace it did not name.
"""
import atexit
import fcntl
import ipaddress
import os
import re
import shutil
import socket
import subprocess
import sys
import time

PREFIX = "lanes-t"
LOCK = "/tmp/lanes-netns.lock"
HOST_RE = re.compile(r"^[a-z0-9]{1,12}$")


def _ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), capture_output=True, text=True,
                          timeout=20, check=check)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Net:
    def __init__(self, hosts, quiet=False):
        hosts = list(hosts)
        if not hosts or len(set(hosts)) != len(hosts) or len(hosts) > 200:
            raise ValueError("hosts must be 1..200 distinct names: %r" % (hosts,))
        for h in hosts:
            if not HOST_RE.match(h):
                raise ValueError("host name %r: use 1..12 of [a-z0-9]" % h)
        self.hosts = hosts
        self.quiet = quiet
        self.isolated = False
        self.subnet = None
        self.root_ip = "127.0.0.1"     # the test's own address as the hosts see it
        self.reason = None             # why we fell back to loopback
        self._tag = "%s%d" % (PREFIX, os.getpid())
        self._made = []                # namespaces we created, for close()
        self._addr = {}
        self._procs = []
        self._closed = False

    @classmethod
    def loopback(cls, hosts):
        """The same API on one machine, on purpose: every host is 127.0.0.1
        and commands run directly (for tests about one machine that share
        host-building code with the multi-host ones). Never started."""
        net = cls(hosts, quiet=True)
        net.reason = "loopback by design"
        return net

    # ---- names ---------------------------------------------------------------

    def ns(self, host):
        """The namespace of host, or None on loopback."""
        self._check(host)
        return "%s-%s" % (self._tag, host) if self.isolated else None

    def _switch(self):
        return "%s-sw" % self._tag

    def _root_link(self):
        return "lt%d" % os.getpid()

    def _check(self, host):
        if host not in self.hosts:
            raise KeyError("no host %r in this Net (hosts: %s)" % (host, ", ".join(self.hosts)))

    # ---- set-up and tear-down -----------------------------------------------

    def start(self):
        atexit.register(self.close)
        why = self._unavailable()
        if why is None:
            try:
                self._build()
                self.isolated = True
                self._verify()
            except (subprocess.SubprocessError, OSError, RuntimeError) as e:
                why = self._describe(e)
                self._teardown()
                self.isolated = False
        if why is not None:
            self.reason = why
            self.subnet = None
            self.root_ip = "127.0.0.1"
            if not self.quiet:
                sys.stderr.write("netns unavailable: running on loopback (%s)\n" % why)
        return self

    @staticmethod
    def _describe(e):
        if isinstance(e, subprocess.CalledProcessError):
            return "%s: %s" % (" ".join(e.cmd), (e.stderr or "").strip())
        return str(e)

    def _unavailable(self):
        if os.environ.get("LANES_NETNS") == "0":
            return "LANES_NETNS=0"
        if os.geteuid() != 0:
            return "not root"
        if not shutil.which("ip"):
            return "no ip command (iproute2)"
        return None

    def _remove_stale(self):
        """Namespaces of earlier runs whose process is gone (killed -9)."""
        out = _ip("netns", "list", check=False).stdout
        for line in out.splitlines():
            m = re.match(r"^(%s(\d+)-[a-z0-9]+)\b" % re.escape(PREFIX), line)
            if m and int(m.group(2)) != os.getpid() and not _pid_alive(int(m.group(2))):
                _ip("netns", "del", m.group(1), check=False)

    def _pick_subnet(self):
        taken = []
        for args in (("-4", "route", "show", "table", "all"), ("-4", "-o", "addr", "show")):
            for line in _ip(*args, check=False).stdout.splitlines():
                for tok in line.split():
                    if re.match(r"^\d+\.\d+\.\d+\.\d+(/\d+)?$", tok):
                        try:
                            taken.append(ipaddress.ip_network(tok, strict=False))
                        except ValueError:
                            pass
        start = os.getpid() % 256
        for i in range(256):
            net = ipaddress.ip_network("10.213.%d.0/24" % ((start + i) % 256))
            if not any(net.overlaps(t) for t in taken if t.prefixlen > 0):
                return net
        raise RuntimeError("every 10.213.x.0/24 overlaps a route of this machine")

    def _build(self):
        with open(LOCK, "a") as lk:
            # Choosing a /24 and claiming it (the root link's address makes a
            # route another run will see) must be one step.
            fcntl.flock(lk, fcntl.LOCK_EX)
            self._remove_stale()
            net = self._pick_subnet()
            hosts = list(net.hosts())
            sw = self._switch()
            _ip("netns", "add", sw)
            self._made.append(sw)
            _ip("-n", sw, "link", "add", "br0", "type", "bridge")
            _ip("-n", sw, "link", "set", "br0", "up")
            root = self._root_link()
            _ip("link", "add", root, "type", "veth", "peer", "name", "up0", "netns", sw)
            _ip("-n", sw, "link", "set", "up0", "master", "br0", "up")
            _ip("addr", "add", "%s/24" % hosts[0], "dev", root)
            _ip("link", "set", root, "up")
            self.root_ip = str(hosts[0])
            self.subnet = str(net)
        for i, h in enumerate(self.hosts):
            name = "%s-%s" % (self._tag, h)
            addr = str(hosts[9 + i])     # .10, .11, ...
            _ip("netns", "add", name)
            self._made.append(name)
            _ip("-n", sw, "link", "add", "h%d" % i, "type", "veth", "peer", "name", "eth0", "netns", name)
            _ip("-n", sw, "link", "set", "h%d" % i, "master", "br0", "up")
            _ip("-n", name, "addr", "add", "%s/24" % addr, "dev", "eth0")
            _ip("-n", name, "link", "set", "eth0", "up")
            _ip("-n", name, "link", "set", "lo", "up")
            self._addr[h] = addr

    def _verify(self):
        """The root namespace reaches every host: a connect to a closed port
        there must be refused (the host's kernel answered), not time out."""
        deadline = time.monotonic() + 5
        for h in self.hosts:
            while True:
                try:
                    s = socket.create_connection((self._addr[h], 9), timeout=1)
                    s.close()
                    break                      # something listens on 9: reachable too
                except ConnectionRefusedError:
                    break
                except OSError as e:
                    if time.monotonic() > deadline:
                        raise RuntimeError("host %s (%s) unreachable from the root namespace: %s"
                                           % (h, self._addr[h], e))
                    time.sleep(0.05)

    def _teardown(self):
        # Deleting the switch namespace takes the bridge and the root link
        # with it; each host namespace takes its eth0 (and the peer).
        for name in reversed(self._made):
            _ip("netns", "del", name, check=False)
        self._made = []
        self._addr = {}

    def close(self):
        """Stops what popen() started and still runs (by PID), then removes
        every namespace and link of this Net. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for p in self._procs:
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        self._procs = []
        self._teardown()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    # ---- using the hosts ---------------------------------------------------------

    def ip(self, host):
        """The address other hosts (and the test) reach host at."""
        self._check(host)
        return self._addr[host] if self.isolated else "127.0.0.1"

    def argv(self, host, argv):
        """argv prefixed to run inside host (ip netns exec keeps the PID: it
        execs the command, so signalling the Popen's pid reaches it)."""
        self._check(host)
        if not self.isolated:
            return list(argv)
        return ["ip", "netns", "exec", self.ns(host)] + list(argv)

    def popen(self, host, argv, **kw):
        """subprocess.Popen of argv inside host. close() kills it if it is
        still running then."""
        p = subprocess.Popen(self.argv(host, argv), **kw)
        self._procs.append(p)
        return p

    def run(self, host, argv, timeout=30, **kw):
        """subprocess.run of argv inside host, bounded by timeout."""
        return subprocess.run(self.argv(host, argv), timeout=timeout, **kw)


if __name__ == "__main__":
    # A self-check: two hosts, one listens, the other and the root connect.
    with Net(["a", "b"]) as net:
        print("isolated:", net.isolated, "subnet:", net.subnet, "root:", net.root_ip,
              "a:", net.ip("a"), "b:", net.ip("b"))
        srv = net.popen("a", [sys.executable, "-c",
                              "import socket;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,"
                              "socket.SO_REUSEADDR,1);s.bind((%r,0));s.listen();"
                              "print(s.getsockname()[1],flush=True);c,_=s.accept();c.sendall(b'hi')"
                              % net.ip("a")], stdout=subprocess.PIPE, text=True)
        port = int(srv.stdout.readline())
        out = net.run("b", [sys.executable, "-c",
                            "import socket;print(socket.create_connection((%r,%d),timeout=3).recv(9))"
                            % (net.ip("a"), port)], capture_output=True, text=True)
        print("b -> a:", out.stdout.strip() or out.stderr.strip())
        srv.wait(timeout=5)
