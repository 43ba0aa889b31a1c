# Plays systemd's part for socket activation in tests: binds the listening sockets once, keeps them, and
# starts each process it is told to with them as fd 3, 4, ... and LISTEN_FDS / LISTEN_FDNAMES / LISTEN_PID set
# (LISTEN_PID after the fork, as systemd does). It never accepts a connection itself.
# Usage: socket-holder.py name=host:port ... ; then one JSON argv per line on stdin; prints
# "ready <port> ...", "started <pid>" and "exited <pid> <code>" lines.
import json, os, socket, subprocess, sys, threading

socks = []
for arg in sys.argv[1:]:
    name, addr = arg.split("=", 1)
    host, port = addr.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(1024)
    socks.append((name, s))
print("ready " + " ".join(str(s.getsockname()[1]) for _, s in socks), flush=True)
os.environ["LISTEN_FDS"] = str(len(socks))
os.environ["LISTEN_FDNAMES"] = ":".join(n for n, _ in socks)
fds = [s.fileno() for _, s in socks]
# Move them to fds above the ones they will get in the child, so the dup2 calls never clobber each other.
high = [os.dup(fd) for fd in fds]
high = [os.dup2(fd, 100 + i) or (100 + i) for i, fd in enumerate(high)]

def prepare():
    for i, fd in enumerate(high):
        os.dup2(fd, 3 + i, inheritable=True)
    os.environ["LISTEN_PID"] = str(os.getpid())

def watch(p):
    code = p.wait()
    print("exited %d %d" % (p.pid, code), flush=True)

for line in sys.stdin:
    argv = json.loads(line)
    p = subprocess.Popen(argv, preexec_fn=prepare, pass_fds=tuple(range(3, 3 + len(high))), stdout=subprocess.DEVNULL, stderr=sys.stderr)
    print("started %d" % p.pid, flush=True)
    threading.Thread(target=watch, args=(p,), daemon=True).start()
