"""A compose file for agent containers, made from the launcher's own description of them.

``./launch.sh --print-compose [agent ...]`` prints it.  Each service is `containers.run_config`
(layout, hardening, network, labels — what `start_agent_container` hands to Docker) spelled in
compose's words, so the compose path cannot drift from the launcher: there is one description.

What compose cannot carry is left out on purpose and said in the file's header:

* secrets passed through from the host (``GH_TOKEN``, ``ANTHROPIC_API_KEY``) are named, not
  written: compose takes their values from its own environment when it starts the container;
* the launcher's refusal of a second container for an agent: compose starts whatever it is told
  (the labels are the same, so ``./launch.sh`` still refuses to start one beside it);
* the launcher's second look at the mounted host folders just after the start (``hostprep.verify_host``:
  a folder swapped for a link meanwhile gets the container removed); ``--print-compose`` checks them
  when it prepares them, compose later mounts what is there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

__all__ = ["compose_document", "compose_service", "render"]

#: ``run_config`` keys with the same meaning and spelling in a compose service.
_SAME = (
    "image",
    "hostname",
    "cap_drop",
    "security_opt",
    "pids_limit",
    "read_only",
    "working_dir",
    "init",
    "stdin_open",
    "tty",
)


def _volume(mount: Mapping[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": mount["Type"],
        "source": mount["Source"],
        "target": mount["Target"],
        "read_only": bool(mount.get("ReadOnly", False)),
    }
    return entry


def compose_service(config: Mapping[str, Any], *, passthrough: Sequence[str] = ()) -> dict[str, Any]:
    """The compose service for one ``run_config`` (``passthrough``: variables named, not valued)."""
    service: dict[str, Any] = {key: config[key] for key in _SAME if key in config}
    service["container_name"] = config["name"]
    service["mem_limit"] = config["mem_limit"]
    service["memswap_limit"] = config["memswap_limit"]
    service["cpus"] = config["nano_cpus"] / 1e9
    service["volumes"] = [_volume(m) for m in config["mounts"]]
    service["tmpfs"] = [f"{path}:{options}" for path, options in config["tmpfs"].items()]
    service["networks"] = ["agents"]
    service["extra_hosts"] = [f"{host}:{addr}" for host, addr in config["extra_hosts"].items()]
    environment: dict[str, Any] = dict(config["environment"])
    for name in passthrough:
        environment.pop(name, None)
    service["environment"] = [f"{k}={v}" for k, v in environment.items()] + list(passthrough)
    service["labels"] = dict(config["labels"])
    return service


def compose_document(
    services: Mapping[str, Mapping[str, Any]], network: str, volumes: Iterable[str] = ()
) -> dict[str, Any]:
    """A compose file: ``services`` (name -> compose_service), the agents' ``network`` (made by the
    launcher, hence external) and the named ``volumes`` the services mount."""
    document: dict[str, Any] = {"services": dict(services)}
    named = sorted(set(volumes))
    if named:
        document["volumes"] = {name: {"name": name} for name in named}
    document["networks"] = {"agents": {"name": network, "external": True}}
    return document


def render(document: Mapping[str, Any], header: str = "") -> str:
    """YAML text, ``header`` lines as comments on top."""
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comments + yaml.safe_dump(dict(document), sort_keys=False, default_flow_style=False)
