"""The docker compose testnet on this machine: a Docker engine, the images, compose up and down.

``python -m chain.ops.dockernet up --dir DIR`` (``make docker-testnet``) makes sure a Docker
engine answers (``scripts/install-docker`` installs Debian's docker.io and the compose plugin;
``dockerd`` is started without its default bridge and firewall rules, ``--bridge=none
--iptables=false``, when none runs and this user may), inits a 4-validator testnet in DIR with
``--docker`` unless DIR holds one, builds the node image, starts the compose project and waits
until every node commits. ``down`` stops it and keeps the chain in its volumes; ``down
--volumes`` drops them too.

Base images. The Dockerfile's defaults are the registries' golang and python images, and the
compose file's Prometheus is prom/prometheus. Each is used when the engine has it or can pull
it. Where it cannot (no registry answers), a local one is built instead, once per machine, from
what this host reaches (the Debian mirror, the Go module proxy, PyPI), and said so:

    modelgov-local/bookworm:KEY      debootstrap --variant=minbase of Debian bookworm with
                                     python3, python3-venv and ca-certificates (runs the node)
    modelgov-local/python-build:KEY  that, plus a wheel house built on this host with pip
                                     (this environment's versions) and PIP_NO_INDEX
    modelgov-local/go:KEY            that, plus this host's Go toolchain and a Go module proxy
                                     on disk with exactly the modules the pinned engine needs
    modelgov-local/prometheus:KEY    debootstrap of bookworm with Debian's prometheus package

Containers here do not trust the certificate authority this host uses to reach the registries,
so nothing in the image build downloads: the Dockerfile's steps run offline against those local
proxies. Their inputs are cached in ``~/.cache/modelgov/docker/`` (root file systems, wheels,
Go modules), never in the checkout; an engine this module starts keeps its images and build
cache there too. Grafana has no Debian package: its service (profile ``grafana``) runs only
where its image can be had. The choice is written to the project's ``.env``, so plain
``docker compose`` commands in DIR use the same images.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from chain import testnet as net
from chain.engine import pythons
from chain.engine.version import (
    COMETBFT_MODULE,
    COMETBFT_VERSION,
    GOGOPROTO_MODULE,
    GOGOPROTO_VERSION,
)
from chain.ops import compose as dc

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = PROJECT_ROOT / "scripts" / "install-docker"
DOCKERD_FLAGS = ("--bridge=none", "--iptables=false")
IMAGE_PYTHON = "3.11"  # bookworm's python3, and the default python image's
SUITE = "bookworm"
MIRROR = os.environ.get("MODELGOV_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PYTHON_PACKAGES = ("python3", "python3-venv", "ca-certificates")
PROMETHEUS_PACKAGES = ("prometheus", "wget", "ca-certificates")
TRIMMED = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale")
EMPTIED = ("var/lib/apt/lists", "var/cache/apt", "var/log")
STAGE_LABEL = "org.modelgov.stage"
STAGES = (
    ("engine", f"modelgov-stage/engine:{COMETBFT_VERSION}"),
    ("build", "modelgov-stage/build:latest"),
    ("node", dc.IMAGE),
)


class DockerError(RuntimeError):
    """Docker could not be had, an image not built, or the project not started; says why."""


def cache_dir() -> Path:
    """Where this machine keeps what the docker testnet needs, outside any checkout."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "modelgov" / "docker"


def say(message: str) -> None:
    """One line of progress for the operator (stderr, so stdout stays for results)."""
    print(message, file=sys.stderr, flush=True)


def _key(*parts: object) -> str:
    """A short digest naming a cached artefact by what it was made from."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def _run(
    args: Sequence[str],
    what: str,
    timeout: float = 1800,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """Run a command; raises DockerError naming ``what`` with the end of its output."""
    try:
        done = subprocess.run(
            list(args), capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DockerError(f"{what} failed: {exc}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-15:]
        raise DockerError(f"{what} failed ({done.returncode}):\n" + "\n".join(tail))
    return str(done.stdout)


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    """Hold a per-machine lock, so two runs do not build the same cached thing at once."""
    path = cache_dir() / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- the engine -----------------------------------------------------------------------------


def engine_problem() -> str:
    """Why no Docker engine answers ("" when one does), in one line."""
    if shutil.which("docker") is None:
        return "the docker client is not installed"
    try:
        done = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker info failed: {exc}"
    if done.returncode == 0:
        return ""
    lines = done.stderr.strip().splitlines()
    return lines[-1] if lines else f"docker info exited {done.returncode}"


def install_tools() -> None:
    """Run scripts/install-docker (idempotent): dockerd, compose v2, debootstrap."""
    _run([str(INSTALL_SCRIPT)], "scripts/install-docker", timeout=1800)


def ensure_engine() -> int | None:
    """Make a Docker engine answer; returns the pid of a dockerd started here (None when one
    already answered). Raises DockerError, one line, where no engine can run."""
    problem = engine_problem()
    if not problem:
        install_tools()
        return None
    if os.geteuid() != 0:
        raise DockerError(f"no Docker engine answers ({problem}) and starting one needs root")
    install_tools()
    if not (problem := engine_problem()):
        return None
    return start_engine()


def start_engine(timeout: float = 60.0) -> int:
    """Start dockerd with host networking only, its data under the cache; returns its pid."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    log = root / "dockerd.log"
    args = ["dockerd", *DOCKERD_FLAGS, "--data-root", str(root / "engine")]
    say(f"starting {' '.join(args)} (log {log})")
    with log.open("ab") as out:
        process = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:]
            raise DockerError(f"dockerd exited {process.returncode}: {' '.join(tail)}")
        if not engine_problem():
            return process.pid
        time.sleep(0.5)
    stop_engine(process.pid)
    raise DockerError(f"dockerd did not answer within {timeout:.0f}s; see {log}")


def stop_engine(pid: int, timeout: float = 30.0) -> None:
    """Stop a dockerd this module started (SIGTERM: it stops its containers first)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


# --- images ---------------------------------------------------------------------------------


def have_image(name: str) -> bool:
    """Whether the engine holds ``name``."""
    done = subprocess.run(["docker", "image", "inspect", name], capture_output=True, timeout=60)
    return done.returncode == 0


def obtain(name: str) -> str:
    """Have ``name`` in the engine (held, or pulled): "" when it is there, else why not."""
    if have_image(name):
        return ""
    done = subprocess.run(["docker", "pull", "-q", name], capture_output=True, text=True)
    if done.returncode == 0:
        return ""
    lines = done.stderr.strip().splitlines()
    return lines[-1] if lines else f"docker pull exited {done.returncode}"


@dataclass(frozen=True)
class Bases:
    """The images a build and a run use, and what the operator should know about them."""

    go: str
    build: str
    python: str
    prometheus: str
    grafana: bool
    notes: tuple[str, ...]

    def env(self) -> dict[str, str]:
        """The project's .env for these images."""
        return {
            "COMPOSE_PROFILES": dc.GRAFANA_PROFILE if self.grafana else "",
            "MODELGOV_GO_IMAGE": self.go,
            "MODELGOV_BUILD_IMAGE": self.build,
            "MODELGOV_PYTHON_IMAGE": self.python,
            dc.PROMETHEUS_VARIABLE: self.prometheus,
        }


def choose_bases() -> Bases:
    """The registries' images where the engine has or can pull them, else local ones."""
    notes: list[str] = []
    defaults = dc.BASE_IMAGES
    go, build, python = (defaults[f"MODELGOV_{k}_IMAGE"] for k in ("GO", "BUILD", "PYTHON"))
    local: dict[str, str] = {}

    def base() -> str:
        if "base" not in local:
            local["base"] = local_python_base()
        return local["base"]

    if why := obtain(python) or obtain(build):
        python, build = base(), local_python_build(base())
        notes.append(
            f"{defaults['MODELGOV_PYTHON_IMAGE']} cannot be pulled ({why}): built "
            f"{python} with debootstrap from {MIRROR}, and {build} with a wheel house"
        )
    if why := obtain(go):
        go = local_go(base())
        notes.append(
            f"{defaults['MODELGOV_GO_IMAGE']} cannot be pulled ({why}): built {go} "
            "with this host's Go and the engine's modules from the Go module proxy"
        )
    prometheus = dc.PROMETHEUS_IMAGE
    if why := obtain(prometheus):
        prometheus = local_prometheus()
        notes.append(
            f"{dc.PROMETHEUS_IMAGE} cannot be pulled ({why}): built {prometheus} "
            f"with debootstrap and Debian's prometheus package"
        )
    grafana = not (why := obtain(dc.GRAFANA_IMAGE))
    if not grafana:
        notes.append(f"{dc.GRAFANA_IMAGE} cannot be pulled ({why}): Grafana is not started")
    return Bases(go, build, python, prometheus, grafana, tuple(notes))


def rootfs(name: str, packages: Sequence[str], prepare: Callable[[Path], None]) -> Path:
    """A trimmed Debian root file system with ``packages``, as a tarball in the cache (built
    once per machine with debootstrap; needs root)."""
    folder = cache_dir() / "rootfs"
    tarball = folder / f"{name}-{_key(SUITE, tuple(packages), TRIMMED, EMPTIED)}.tar"
    if tarball.exists():
        return tarball
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        raise DockerError(f"building the {name} base needs root and debootstrap (install-docker)")
    tree = folder / f"{name}.tree"
    shutil.rmtree(tree, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    (cache_dir() / "debs").mkdir(exist_ok=True)
    say(f"debootstrap {SUITE} with {', '.join(packages)} from {MIRROR} (once per machine)")
    _run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(packages)}",
            f"--cache-dir={cache_dir() / 'debs'}",
            SUITE,
            str(tree),
            MIRROR,
        ],
        f"debootstrap of {name}",
    )
    for path in TRIMMED:
        shutil.rmtree(tree / path, ignore_errors=True)
    for path in EMPTIED:
        for child in (tree / path).glob("*"):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    prepare(tree)
    partial = tarball.with_suffix(".partial")
    _run(["tar", "-C", str(tree), "-cf", str(partial), "."], f"packing {name}")
    partial.rename(tarball)
    shutil.rmtree(tree)
    for older in folder.glob(f"{name}-*.tar"):  # made under other settings: never used again
        if older != tarball:
            older.unlink()
    return tarball


def import_rootfs(tarball: Path, tag: str, changes: Sequence[str]) -> str:
    """``docker import`` a root file system as ``tag`` unless the engine has it."""
    if not have_image(tag):
        options = [a for change in changes for a in ("--change", change)]
        _run(["docker", "import", *options, str(tarball), tag], f"importing {tag}")
    return _only(tag)


def _only(tag: str) -> str:
    """Keep ``tag`` as its repository's only local image: the others were made under other
    settings (an image still in use stays, as ``docker rmi`` refuses it)."""
    repository = tag.rpartition(":")[0]
    listed = _run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", repository], "ls")
    for other in set(listed.split()) - {tag}:
        subprocess.run(["docker", "rmi", other], capture_output=True, timeout=120)
    return tag


def local_python_base() -> str:
    """modelgov-local/bookworm: Debian's python3 with venv, the node's runtime."""
    with _locked("rootfs"):
        tarball = rootfs("bookworm-python3", PYTHON_PACKAGES, lambda tree: None)
    tag = f"modelgov-local/bookworm:python3-{_key(tarball.name)}"
    return import_rootfs(tarball, tag, ["ENV LANG=C.UTF-8", 'CMD ["/bin/bash"]'])


def local_prometheus() -> str:
    """modelgov-local/prometheus: Debian's prometheus package, run as user prometheus with its
    data in /prometheus (as the registry's image has it)."""

    def prepare(tree: Path) -> None:
        uid, gid = _ids(tree, "prometheus")
        (tree / "prometheus").mkdir(exist_ok=True)
        os.chown(tree / "prometheus", uid, gid)

    with _locked("rootfs"):
        tarball = rootfs("bookworm-prometheus", PROMETHEUS_PACKAGES, prepare)
    tag = f"modelgov-local/prometheus:bookworm-{_key(tarball.name)}"
    changes = [
        "ENV LANG=C.UTF-8",
        "USER prometheus",
        "WORKDIR /prometheus",
        'ENTRYPOINT ["/usr/bin/prometheus"]',
        'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]',
    ]
    return import_rootfs(tarball, tag, changes)


def _ids(tree: Path, user: str) -> tuple[int, int]:
    """A user's uid and gid in a root file system's /etc/passwd."""
    for line in (tree / "etc" / "passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return int(fields[2]), int(fields[3])
    raise DockerError(f"no user {user} in {tree}/etc/passwd")


def requirements(pyproject: Path = PROJECT_ROOT / "pyproject.toml") -> list[str]:
    """What the image's pip installs: the dependencies, the dev extra, the build backend."""
    data = tomllib.loads(pyproject.read_text())
    project = data["project"]
    lines: list[str] = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [*lines, *data["build-system"]["requires"]]


def constraints() -> list[str]:
    """The versions this environment runs, so the image gets the libraries the tests ran."""
    pins = {
        (d.metadata["Name"] or "").lower(): f"{d.metadata['Name']}=={d.version}"
        for d in metadata.distributions()
    }
    return sorted(pin for name, pin in pins.items() if name and name != "modelgov")


def wheel_python() -> Path:
    """A Python of the image's minor on this host (this one, or pyenv's / PATH's)."""
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == IMAGE_PYTHON:
        return Path(sys.executable)
    try:
        return pythons.find_base(IMAGE_PYTHON)
    except pythons.PythonUnavailable as exc:
        raise DockerError(f"the wheel house needs Python {IMAGE_PYTHON}: {exc}") from None


def wheelhouse() -> Path:
    """Wheels of every requirement for the image's Python, built on this host once per set of
    requirements and pins (pip reaches the index here; containers cannot)."""
    wanted, pins = requirements(), constraints()
    folder = cache_dir() / "wheels" / _key(IMAGE_PYTHON, wanted, pins)
    if (folder / ".complete").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "constraints.txt").write_text("\n".join(pins) + "\n")
    say(f"building wheels for Python {IMAGE_PYTHON} into {folder} (once per requirement set)")
    _run(
        [
            str(wheel_python()),
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--disable-pip-version-check",
            "--wheel-dir",
            str(folder),
            "--constraint",
            str(folder / "constraints.txt"),
            *wanted,
        ],
        "pip wheel",
    )
    (folder / ".complete").touch()
    return folder


def local_python_build(base: str) -> str:
    """modelgov-local/python-build: the base plus the wheel house, pip offline."""
    wheels = wheelhouse()
    tag = f"modelgov-local/python-build:{_key(base, wheels.name)}"
    dockerfile = f"FROM {base}\nCOPY wheels /wheels\nENV PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels\n"
    return _build_small(tag, dockerfile, {"wheels": wheels})


def goproxy() -> Path:
    """A Go module proxy on disk (GOPROXY=file://) holding what the pinned engine's build and
    protogen need, filled from this host's module cache, else the host's proxy."""
    root = cache_dir() / "goproxy" / COMETBFT_VERSION
    download = root / "mod" / "cache" / "download"
    if (root / ".complete").exists():
        return download
    go = shutil.which("go")
    if go is None:
        raise DockerError("the local Go base needs Go on this host (it builds the engine)")
    host_cache = _run([go, "env", "GOMODCACHE"], "go env").strip()
    host_proxy = _run([go, "env", "GOPROXY"], "go env").strip()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    env = dict(
        os.environ,
        GOMODCACHE=str(root / "mod"),
        GOFLAGS="-modcacherw",
        GOPROXY=f"file://{host_cache}/cache/download,{host_proxy}",
        GOBIN=str(root / "bin"),
    )
    say(f"collecting the Go modules of CometBFT {COMETBFT_VERSION} into {root} (once)")
    _run(
        [go, "install", f"{COMETBFT_MODULE}/cmd/cometbft@{COMETBFT_VERSION}"],
        "go install",
        env=env,
        cwd=root,
    )
    modules = [f"{COMETBFT_MODULE}@{COMETBFT_VERSION}", f"{GOGOPROTO_MODULE}@{GOGOPROTO_VERSION}"]
    _run([go, "mod", "download", "-json", *modules], "go mod download", env=env, cwd=root)
    shutil.rmtree(root / "bin")
    for extracted in (root / "mod").iterdir():  # the proxy is cache/download; sources go
        if extracted.name != "cache":
            shutil.rmtree(extracted)
    (root / ".complete").touch()
    return download


def local_go(base: str) -> str:
    """modelgov-local/go: the base plus this host's Go toolchain and the on-disk module proxy
    (GOSUMDB off: the host's go command checked every module against sum.golang.org when it
    downloaded it)."""
    go = shutil.which("go")
    if go is None:
        raise DockerError("the local Go base needs Go on this host (it builds the engine)")
    goroot = Path(_run([go, "env", "GOROOT"], "go env").strip())
    version = (goroot / "VERSION").read_text().split()[0]
    proxy = goproxy()
    tag = f"modelgov-local/go:{version}-{_key(base, COMETBFT_VERSION, str(goroot))}"
    dockerfile = (
        f"FROM {base}\nCOPY go /usr/local/go\nCOPY goproxy /goproxy\n"
        "ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"
        ":/sbin:/bin GOPATH=/go GOPROXY=file:///goproxy GOSUMDB=off GOTOOLCHAIN=local\n"
    )
    return _build_small(tag, dockerfile, {"go": goroot, "goproxy": proxy})


def _build_small(tag: str, dockerfile: str, content: dict[str, Path]) -> str:
    """Build ``tag`` from a generated Dockerfile and folders (hard-linked where possible)."""
    if have_image(tag):
        return _only(tag)
    context = cache_dir() / "context" / tag.replace("/", "_").replace(":", "_")
    shutil.rmtree(context, ignore_errors=True)
    context.mkdir(parents=True)
    try:
        for name, source in content.items():
            _copy_tree(source, context / name)
        (context / "Dockerfile").write_text(dockerfile)
        say(f"building {tag}")
        _run(["docker", "build", "-q", "-t", tag, str(context)], f"building {tag}")
    finally:
        shutil.rmtree(context, ignore_errors=True)
    return _only(tag)


def _copy_tree(source: Path, target: Path) -> None:
    """Copy a folder, hard-linking files when source and target share a file system."""
    try:
        _run(["cp", "-al", str(source), str(target)], "cp -al")
    except DockerError:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target, symlinks=True)


def build_node_image(bases: Bases) -> float:
    """Build the node image (``dc.IMAGE``) from this checkout; returns the seconds it took.

    Each stage is built and tagged in turn (``modelgov-stage/engine``, ``modelgov-stage/build``,
    then the image), so the stages the next build reuses are never dangling; what a rebuild
    replaced is then pruned by the Dockerfile's stage label, and nothing else is."""
    args = {"GO_IMAGE": bases.go, "BUILD_IMAGE": bases.build, "PYTHON_IMAGE": bases.python}
    options = [a for k, v in args.items() for a in ("--build-arg", f"{k}={v}")]
    say(f"building {dc.IMAGE} from {PROJECT_ROOT} (bases: {', '.join(args.values())})")
    started = time.monotonic()
    env = dict(os.environ, DOCKER_CLI_HINTS="false")
    for target, tag in STAGES:
        command = ["docker", "build", "--target", target, "-t", tag, *options, str(PROJECT_ROOT)]
        _run(command, f"docker build of stage {target}", env=env)
    _run(["docker", "image", "prune", "-f", "--filter", f"label={STAGE_LABEL}"], "pruning")
    return time.monotonic() - started


def image_size(name: str = dc.IMAGE) -> int:
    """The image's size in bytes as the engine reports it."""
    out = _run(["docker", "image", "inspect", "--format", "{{.Size}}", name], "docker inspect")
    return int(out.strip())


def prepare_images(directory: Path) -> Bases:
    """Choose the bases, build what is missing and the node image, write the project's .env."""
    with _locked("images"):
        bases = choose_bases()
        for note in bases.notes:
            say(note)
        seconds = build_node_image(bases)
    say(f"{dc.IMAGE}: {image_size() / 1e6:.0f} MB, built in {seconds:.0f}s")
    dc.write_env(directory, bases.env(), "images for this machine, by chain.ops.dockernet")
    return bases


# --- the compose project --------------------------------------------------------------------


def compose_args(directory: Path, network: str = "host") -> list[str]:
    """``docker compose`` on the testnet's compose file of ``network``."""
    return ["docker", "compose", "-f", str(directory / dc.COMPOSE_FILES[network])]


def compose(directory: Path, *args: str, network: str = "host", timeout: float = 600) -> str:
    """Run one ``docker compose`` command on the project; raises DockerError on failure."""
    command = [*compose_args(directory, network), *args]
    return _run(command, " ".join(command[1:2] + command[4:]), timeout=timeout)


def testnet_in(directory: Path, validators: int, base_port: int) -> net.Testnet:
    """The testnet in ``directory``, made (with its compose files) if there is none."""
    directory = directory.resolve()
    if (directory / net.MANIFEST).exists():
        testnet = net.Testnet.load(directory)
        if not (directory / dc.COMPOSE_FILE).exists():
            dc.write_compose(testnet)
        return testnet
    say(f"modelgov testnet init --validators {validators} --dir {directory} --docker")
    return net.init(directory, validators, base_port=base_port, docker=True)


def up(
    directory: Path,
    validators: int = 4,
    base_port: int = net.DEFAULT_BASE_PORT,
    network: str = "host",
    timeout: float = 300,
) -> net.Testnet:
    """Engine, testnet files, images, ``compose up``; returns once every node commits."""
    ensure_engine()
    testnet = testnet_in(directory, validators, base_port)
    running = [n.name for n in testnet.nodes if net.node_processes(Path(testnet.directory), n)]
    if running:
        raise DockerError(
            f"the process testnet in {testnet.directory} runs ({', '.join(running)}) on the same "
            f"ports: stop it first (modelgov testnet stop --dir {directory})"
        )
    prepare_images(Path(testnet.directory))
    start(testnet, network, timeout)
    return testnet


def start(testnet: net.Testnet, network: str = "host", timeout: float = 300) -> None:
    """``compose up -d --wait`` (every service healthy), then a block past the highest height
    any node had, so a node that was down has caught up."""
    directory = Path(testnet.directory)
    wait = ("--wait", "--wait-timeout", str(int(timeout)))
    try:
        compose(directory, "up", "-d", *wait, network=network, timeout=timeout + 60)
    except DockerError as exc:
        logs = " ".join([*compose_args(directory, network), "logs"])
        said = _init_logs(testnet, network)
        raise DockerError(f"{exc}\n{said}the services' logs: {logs}") from None
    net.wait_until_producing(testnet, timeout)
    top = max(net._height(n) for n in testnet.nodes)
    net.wait_until_producing(testnet, timeout, top + 1)


def _init_logs(testnet: net.Testnet, network: str) -> str:
    """What the volumes' init services said (a refused volume says why), once per line."""
    inits = [f"{n.name}-init" for n in testnet.nodes]
    args = ("logs", "--no-color", "--no-log-prefix", "--tail", "3", *inits)
    try:
        said = compose(Path(testnet.directory), *args, network=network)
    except DockerError:
        return ""
    lines = dict.fromkeys(ln.strip() for ln in said.splitlines() if ln.strip())
    return "".join(f"{line}\n" for line in lines)


def down(directory: Path, volumes: bool = False, network: str = "host") -> None:
    """Stop and remove the project's containers and network (and with ``volumes``, the chain)."""
    compose(directory.resolve(), "down", *(["--volumes"] if volumes else []), network=network)


def main(argv: Sequence[str] | None = None) -> int:
    """``up``, ``down`` or ``images`` for the docker testnet in ``--dir``."""
    parser = argparse.ArgumentParser(
        prog="python -m chain.ops.dockernet",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=("up", "down", "images"))
    parser.add_argument("--dir", dest="directory", type=Path, default=Path("testnet"))
    parser.add_argument("--validators", type=int, default=4)
    parser.add_argument("--base-port", type=int, default=net.DEFAULT_BASE_PORT)
    parser.add_argument("--network", choices=dc.NETWORKS, default="host")
    parser.add_argument("--volumes", action="store_true", help="down: drop the chain too")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            testnet = up(args.directory, args.validators, args.base_port, args.network)
            file = Path(testnet.directory) / dc.COMPOSE_FILES[args.network]
            say(f"up: {len(testnet.nodes)} validators; logs: docker compose -f {file} logs")
        elif args.command == "down":
            down(args.directory, args.volumes, args.network)
        else:
            ensure_engine()
            testnet = testnet_in(args.directory, args.validators, args.base_port)
            prepare_images(Path(testnet.directory))
    except (DockerError, net.TestnetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
