"""The container and the service, checked as text without a container engine: the image installs
and starts the bot as the README says, as a user without privileges, with a health check; the
compose file and the systemd unit name settings and paths that exist."""

from __future__ import annotations

import ast
import os
import re
import shlex
from pathlib import Path

import pytest

from bot.settings import _VARIABLES, Settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = (ROOT / "compose.yaml").read_text()
UNIT = (ROOT / "deploy" / "imagebot.service").read_text()
README = (ROOT / "README.md").read_text()


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def command(arguments: str) -> list[str]:
    """A RUN/CMD's words, from its exec (JSON) form or its shell form."""
    if arguments.startswith("["):
        return [str(word) for word in ast.literal_eval(arguments)]
    return shlex.split(arguments)


def readme_commands() -> list[str]:
    """Every command line of the README's bash blocks, comments dropped."""
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    lines = (line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines())
    return [" ".join(shlex.split(line)) for line in lines if line]


def grace() -> float:
    """Seconds the bot gives running jobs on SIGTERM by default (IMAGEBOT_SHUTDOWN_GRACE)."""
    return float(Settings.__dataclass_fields__["shutdown_grace"].default)


def known_settings() -> set[str]:
    """Every variable the bot reads: Settings' table, the two secrets, and .env.example's."""
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.M))
    return set(_VARIABLES) | {"DISCORD_TOKEN", "OPENAI_API_KEY"} | documented


def assert_known(names: set[str]) -> None:
    unknown = names - known_settings()
    assert not unknown, f"not settings of the bot: {sorted(unknown)}"


# --- the image -----------------------------------------------------------------------------------


def test_the_image_installs_and_starts_the_bot_as_the_readme_says() -> None:
    steps = instructions(DOCKERFILE)
    installs = [" ".join(command(a)) for i, a in steps if i == "RUN" and "pip install" in a]
    (cmd,) = [" ".join(command(a)) for i, a in steps if i == "CMD"]

    assert installs == ["python -m pip install ."]
    assert installs[0] in readme_commands()
    assert cmd == "python -m bot" and cmd in readme_commands()
    base = next(a for i, a in steps if i == "FROM")
    assert re.fullmatch(r"python:3\.1[12]-slim", base), base


def test_the_image_copies_only_the_package_and_never_secrets_or_state() -> None:
    copied = [src for i, a in instructions(DOCKERFILE) if i == "COPY" for src in a.split()[:-1]]
    assert copied == ["pyproject.toml", "README.md", "bot", "cogs"]  # README: the package's readme
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", "data/", ".venv/", ".git/"} <= set(ignored)


def test_the_bot_runs_as_a_user_without_privileges_after_the_install() -> None:
    steps = [i for i, _ in instructions(DOCKERFILE)]
    users = [a for i, a in instructions(DOCKERFILE) if i == "USER"]
    assert users and users[-1] not in ("root", "0") and not users[-1].startswith("0:")
    last_run = max(n for n, i in enumerate(steps) if i == "RUN")
    assert steps.index("USER") > last_run  # nothing after it runs as root
    assert steps.index("USER") < steps.index("CMD")


def test_the_health_check_asks_healthz_on_the_port_the_image_sets_without_curl() -> None:
    steps = instructions(DOCKERFILE)
    (check,) = [a for i, a in steps if i == "HEALTHCHECK"]
    words = command(check[check.index("CMD") + 3 :].strip())
    assert words[:2] == ["python", "-c"]
    code = words[2]
    compile(code, "HEALTHCHECK", "exec")  # valid Python
    assert "127.0.0.1" in code and "/healthz" in code and "IMAGEBOT_HTTP_PORT" in code
    assert "curl" not in DOCKERFILE.split("HEALTHCHECK")[1].split("\n\n")[0]
    env = " ".join(a for i, a in steps if i == "ENV")
    assert re.search(r"\bIMAGEBOT_HTTP_PORT=\d+", env)  # the port is on, so there is a check
    assert_known(set(re.findall(r"\b(IMAGEBOT_[A-Z_]+|DATABASE_URL)=", env)))


# --- compose -------------------------------------------------------------------------------------


def service(name: str) -> str:
    """One service's block of compose.yaml (two-space indentation, as written)."""
    match = re.search(rf"^  {name}:\n((?:    .*\n|\s*\n)+)", COMPOSE, re.M)
    assert match, name
    return match.group(1)


def environment(block: str) -> dict[str, str]:
    match = re.search(r"^    environment:\n((?:      .*\n)+)", block, re.M)
    assert match
    lines = [ln.strip() for ln in match.group(1).splitlines() if not ln.strip().startswith("#")]
    return dict(ln.split(": ", 1) for ln in lines)


def test_compose_runs_the_bot_with_postgres_16_and_a_volume() -> None:
    bot, postgres = service("bot"), service("postgres")
    assert "build: ." in bot and "env_file: .env" in bot
    assert "image: postgres:16" in postgres
    assert re.search(r"- postgres-data:/var/lib/postgresql/data", postgres)
    assert re.search(r"^  postgres-data:", COMPOSE, re.M)  # a named volume: it outlives containers

    bot_env, db_env = environment(bot), environment(postgres)
    url = bot_env["DATABASE_URL"]
    user, db = db_env["POSTGRES_USER"], db_env["POSTGRES_DB"]
    assert re.fullmatch(rf"postgresql://{user}:\S+@postgres:5432/{db}", url), url
    assert "condition: service_healthy" in bot  # migrations need the database up
    assert_known(set(bot_env))
    # .env.example leaves the port empty, which would turn off what the health check asks.
    image_port = re.search(r"\bIMAGEBOT_HTTP_PORT=(\d+)", DOCKERFILE)
    assert image_port and bot_env["IMAGEBOT_HTTP_PORT"] == f'"{image_port.group(1)}"'


def test_compose_and_the_unit_wait_longer_than_the_shutdown_grace() -> None:
    compose_grace = re.search(r"stop_grace_period: (\d+)s", service("bot"))
    unit_timeout = re.search(r"^TimeoutStopSec=(\d+)$", UNIT, re.M)
    assert compose_grace and unit_timeout
    assert int(compose_grace.group(1)) > grace()
    assert int(unit_timeout.group(1)) > grace()


# --- the systemd unit ----------------------------------------------------------------------------


def unit(key: str) -> str:
    match = re.search(rf"^{key}=(.*)$", UNIT, re.M)
    assert match, key
    return match.group(1).strip()


def test_the_unit_starts_the_checkouts_run_script_as_its_own_user() -> None:
    workdir = Path(unit("WorkingDirectory"))
    start = Path(unit("ExecStart"))
    assert start.is_relative_to(workdir)  # the script of the checkout the unit runs in
    script = ROOT / start.relative_to(workdir)
    assert script == ROOT / "scripts" / "run" and script.is_file()
    assert os.access(script, os.X_OK)
    assert unit("User") not in ("root", "0")
    assert (unit("Restart"), unit("KillSignal")) == ("on-failure", "SIGTERM")


@pytest.mark.parametrize("text", [DOCKERFILE, COMPOSE, UNIT])
def test_no_file_carries_a_secret(text: str) -> None:
    assert not re.search(r"(DISCORD_TOKEN|OPENAI_API_KEY)\s*[:=]\s*\S", text)
    assert not re.search(r"sk-[A-Za-z0-9]{8,}", text)
