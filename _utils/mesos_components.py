"""What each component of a cluster host lays down: its files and its service.

Pure functions over the merged ``mesos`` settings and the host values of
``_utils/mesos_cluster.py``. A component is

    {"name", "files": [{"id", "path", "contents", "mode"}],
     "directories": [{"id", "path", "clean", "require"}],
     "service": {"name", "reload", "watch": [state ids]} or None}

Paths carry ``mesos:root``. ``watch`` lists exactly the states whose change
the service must act on: its own files, plus a shared file it reads
(/etc/mesos/zk for both Mesos daemons). salt/mesos/macros.jinja turns a
component into install/config/service/clean states.
"""

import json
import shlex

from salt.exceptions import SaltInvocationError

COMPONENTS = (
    "zookeeper",
    "mesos_common",
    "mesos_master",
    "mesos_agent",
    "marathon",
    "chronos",
    "consul",
    "docker",
    "registrator",
)
# Components that need this host in master_nodes (their ids and addresses).
MASTER_ONLY = ("zookeeper", "mesos_master", "marathon", "chronos")


def rooted(root, path):
    return (root or "/").rstrip("/") + "/" + path.lstrip("/")


def state_prefix(component):
    """mesos_master -> mesos-master, zookeeper -> mesos-zookeeper."""
    return "mesos-" + component.removeprefix("mesos_").replace("_", "-")


def state_id(component, key):
    return state_prefix(component) + "-" + key


def flag_text(value):
    """A flag value as Mesos and Chronos read it from a file (true/false lower case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Builder:
    """Collects one component's files and directories."""

    def __init__(self, name, root):
        self.name = name
        self.root = root
        self.files = []
        self.directories = []

    def file(self, key, path, contents, mode="0644"):
        entry = {
            "id": state_id(self.name, key),
            "path": rooted(self.root, path),
            "contents": contents,
            "mode": mode,
        }
        self.files.append(entry)
        return entry["id"]

    def flag_directory(self, key, directory, flags):
        """One file per flag, and the directory cleaned of flags pillar dropped."""
        ids = [
            self.file(
                f"flag-{flag.replace('_', '-')}", f"{directory}/{flag}", flag_text(value) + "\n"
            )
            for flag, value in sorted(flags.items())
        ]
        directory_id = state_id(self.name, key)
        self.directories.append(
            {
                "id": directory_id,
                "path": rooted(self.root, directory),
                "clean": True,
                "require": ids,
            }
        )
        return [*ids, directory_id]

    def component(self, service=None, reload=False, watch=None):
        own = [entry["id"] for entry in self.files] + [d["id"] for d in self.directories]
        return {
            "name": self.name,
            "prefix": state_prefix(self.name),
            "files": self.files,
            "directories": self.directories,
            "service": (
                {"name": service, "reload": reload, "watch": sorted(set(own + (watch or [])))}
                if service
                else None
            ),
        }


def environment_file(variables):
    """KEY=value lines that both systemd's EnvironmentFile and sh read alike."""
    return "".join(
        f"{key}={shlex.quote(flag_text(value))}\n" for key, value in sorted(variables.items())
    )


def json_file(data):
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


# Components ----------------------------------------------------------------------


def zookeeper(settings, values, root):
    zk = settings["zookeeper"]
    build = Builder("zookeeper", root)
    lines = ["# ZooKeeper ensemble of the Mesos masters, laid down by Salt (mesos.zookeeper)."]
    lines += [f"{key}={value}" for key, value in sorted((zk.get("settings") or {}).items())]
    lines += [f"dataDir={zk['data_dir']}", f"clientPort={zk['client_port']}"]
    lines += values["zookeeper_ensemble"]
    build.file("zoo-cfg", f"{zk['config_dir']}/zoo.cfg", "\n".join(lines) + "\n")
    build.file("myid", f"{zk['config_dir']}/myid", f"{values['zookeeper_id']}\n")
    return build.component(zk["service"])


def mesos_common(settings, values, root):
    build = Builder("mesos_common", root)
    build.file("zk", settings["mesos_common"]["zk_file"], values["mesos_zk_url"] + "\n")
    return build.component()


def mesos_daemon(name, settings, values, root, derived):
    """A Mesos daemon: pillar flags plus the derived ones, one file each.

    Both daemons also read /etc/mesos/zk (mesos_common), so it restarts them.
    """
    daemon = settings[name]
    own = {"hostname": values["node"], **({"ip": values["ip"]} if values["ip"] else {})}
    flags = {**(daemon.get("flags") or {}), **derived, **own}
    build = Builder(name, root)
    build.flag_directory("flags", daemon["flags_dir"], flags)
    return build.component(daemon["service"], watch=[state_id("mesos_common", "zk")])


def mesos_master(settings, values, root):
    derived = {"quorum": values["quorum"], "port": settings["mesos_master"]["port"]}
    if "cluster" not in (settings["mesos_master"].get("flags") or {}):
        derived["cluster"] = settings["cluster_name"]
    return mesos_daemon("mesos_master", settings, values, root, derived)


def mesos_agent(settings, values, root):
    return mesos_daemon("mesos_agent", settings, values, root, {"master": values["mesos_zk_url"]})


def marathon(settings, values, root):
    settings_marathon = settings["marathon"]
    flags = {
        **(settings_marathon.get("flags") or {}),
        "master": values["mesos_zk_url"],
        "zk": values["marathon_zk_url"],
        "http_port": settings_marathon["http_port"],
        "hostname": values["address"] or values["node"],
    }
    build = Builder("marathon", root)
    variables = {f"MARATHON_{name.upper()}": value for name, value in flags.items()}
    build.file("defaults", settings_marathon["defaults_file"], environment_file(variables))
    return build.component(settings_marathon["service"])


def chronos(settings, values, root):
    settings_chronos = settings["chronos"]
    flags = {
        **(settings_chronos.get("flags") or {}),
        "master": values["mesos_zk_url"],
        "zk_hosts": values["zk_hosts"],
        "zk_path": values["chronos_zk_path"],
        "http_port": settings_chronos["http_port"],
        "hostname": values["address"] or values["node"],
    }
    build = Builder("chronos", root)
    build.flag_directory("flags", settings_chronos["conf_dir"], flags)
    return build.component(settings_chronos["service"])


def consul(settings, values, root):
    settings_consul = settings["consul"]
    config = {
        **(settings_consul.get("settings") or {}),
        "datacenter": settings_consul["datacenter"],
        "data_dir": settings_consul["data_dir"],
        "server": values["is_master"],
    }
    if values["is_master"]:
        config["bootstrap_expect"] = values["bootstrap_expect"]
        config["retry_join"] = values["consul_retry_join"]
    else:
        config["retry_join"] = values["consul_servers"]
    if values["ip"]:
        config["bind_addr"] = values["ip"]
    build = Builder("consul", root)
    build.file("config", settings_consul["config_file"], json_file(config))
    # Consul re-reads its configuration on SIGHUP (consul reload).
    return build.component(settings_consul["service"], reload=True)


def docker(settings, values, root):
    settings_docker = settings["docker"]
    build = Builder("docker", root)
    build.file(
        "daemon", settings_docker["daemon_file"], json_file(settings_docker.get("daemon") or {})
    )
    return build.component(settings_docker["service"])


def registrator_command(settings, values):
    """The ``docker run`` argument list of the configured registrator."""
    registrator = settings["registrator"]
    kind = registrator["kind"]
    words = [
        registrator["docker_binary"],
        "run",
        "--rm",
        f"--name={registrator['service']}",
        "--net=host",
    ]
    if kind == "gliderlabs":
        # Docker events: containers' SERVICE_NAME / SERVICE_TAGS environment.
        words += ["--volume=/var/run/docker.sock:/tmp/docker.sock", registrator["images"][kind]]
        if values["ip"]:
            words.append(f"-ip={values['ip']}")
        words += [
            f"-resync={registrator['resync_seconds']}",
            "consul://" + registrator["consul_address"],
        ]
    else:
        # Marathon's event stream: apps' SERVICE_NAME / SERVICE_TAGS env or labels.
        marathon_hosts = ",".join(url.removeprefix("http://") for url in values["marathon_urls"])
        words += [
            registrator["images"][kind],
            f"-consul=http://{registrator['consul_address']}",
            f"-marathon=http://{marathon_hosts}",
            f"-resync-interval={registrator['resync_interval']}",
        ]
    return words


def registrator(settings, values, root):
    registrator_settings = settings["registrator"]
    command = " ".join(shlex.quote(word) for word in registrator_command(settings, values))
    docker_binary = registrator_settings["docker_binary"]
    name = registrator_settings["service"]
    unit = (
        f"# {registrator_settings['kind']}: Mesos tasks into Consul; laid down by Salt.\n"
        "[Unit]\n"
        f"Description=Service registrator ({registrator_settings['kind']})\n"
        "After=docker.service consul.service\n"
        "Requires=docker.service\n\n"
        "[Service]\n"
        f"ExecStartPre=-{docker_binary} rm --force {name}\n"
        f"ExecStart={command}\n"
        f"ExecStop={docker_binary} stop {name}\n"
        "Restart=always\n"
        "RestartSec=5\n\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )
    build = Builder("registrator", root)
    build.file("unit", registrator_settings["systemd_unit"], unit)
    return build.component(name)


BUILDERS = {
    "zookeeper": zookeeper,
    "mesos_common": mesos_common,
    "mesos_master": mesos_master,
    "mesos_agent": mesos_agent,
    "marathon": marathon,
    "chronos": chronos,
    "consul": consul,
    "docker": docker,
    "registrator": registrator,
}


def component(name, settings, values):
    """The files and service of component ``name`` on the host ``values`` describe."""
    if name not in BUILDERS:
        raise SaltInvocationError(f"unknown component {name!r} (known: {', '.join(COMPONENTS)})")
    if name in MASTER_ONLY and not values["is_master"]:
        raise SaltInvocationError(
            f"mesos.{name} runs on masters only: host {values['node']} is not in "
            "mesos:master_nodes (set mesos:node_name if its minion id differs)"
        )
    return BUILDERS[name](settings, values, settings.get("root", "/"))


# Placeholders for laying out paths only (clean states): contents are unused.
PATHS_ONLY_VALUES = {
    "node": "node",
    "roles": [],
    "address": "",
    "ip": "",
    "is_master": True,
    "zookeeper_id": 0,
    "zookeeper_ensemble": [],
    "zk_hosts": "",
    "mesos_zk_url": "",
    "marathon_zk_url": "",
    "chronos_zk_path": "",
    "quorum": 0,
    "consul_servers": [],
    "consul_retry_join": [],
    "bootstrap_expect": 0,
    "marathon_urls": [],
}


def component_paths(name, settings):
    """The component's files and directories without checking pillar (for clean)."""
    laid_out = component(name, settings, PATHS_ONLY_VALUES)
    return {
        "name": name,
        "prefix": laid_out["prefix"],
        "files": [entry["path"] for entry in laid_out["files"]],
        "directories": [entry["path"] for entry in laid_out["directories"]],
        "service": (laid_out["service"] or {}).get("name"),
    }
