"""The container directory's file names: the one spelling shared by ``rpod/`` and ``rootless/``.

A container has two directories; rpod (the CLI/engine) and the monitor both read and write in
them, so every name is spelled here and nowhere else.  Plain constants: the monitor imports
this module, so it must stay free of imports.

``<store>/containers/<id>/`` (``container_dir``, also the OCI bundle)::

    container.json          RECORD            rpod's record of the container (rpod.container.state)
    config.json             SPEC              the OCI runtime spec (bundle config)
    ctr.log                 LOG               k8s-file log written by the monitor
    exit                    EXIT              how the container ended (monitor; rootless.monitor.exitfile)
    monitor.json            MONITOR           which monitor/init run it, on which boot (monitor)
    restart.json            RESTART           present during a restart back-off (monitor)
    stopped-by-user         STOP_MARK         rpod stop/kill: the monitor must not restart it
    stopping.json           STOPPING          rpod stop, while it waits for the container to exit (its pid)
    died.event              DIED_MARK         the ``died`` event of this run was recorded (once)
    healthcheck.log         HEALTH_LOG        healthcheck results (monitor, Podman's format)
    network-attached.json   NETWORK_ATTACHED  user networks attached at start (rpod.network)
    notify/                 NOTIFY_DIR        --sdnotify=container proxy socket's directory
    userdata/               USERDATA          hosts, hostname, resolv.conf, conmon.pid
    upper/ work/ rootfs/    UPPER WORK ROOTFS the overlay's directories

``<runroot>/containers/<id>/`` (``run_dir``)::

    attach                  ATTACH_SOCKET     the monitor's attach socket
    container.pid           CONTAINER_PID     the init pid written by an OCI runtime CLI
    runtime.log             RUNTIME_LOG       an OCI runtime CLI's error log
    config.runtime.json     RUNTIME_SPEC      the spec rewritten for an OCI runtime CLI
"""

# <store>/containers/<id>/
RECORD = "container.json"
SPEC = "config.json"
LOG = "ctr.log"
EXIT = "exit"
MONITOR = "monitor.json"
RESTART = "restart.json"
STOP_MARK = "stopped-by-user"
STOPPING = "stopping.json"
DIED_MARK = "died.event"
HEALTH_LOG = "healthcheck.log"
NETWORK_ATTACHED = "network-attached.json"
NOTIFY_DIR = "notify"
USERDATA = "userdata"
HOSTS = "userdata/hosts"
HOSTNAME = "userdata/hostname"
RESOLV_CONF = "userdata/resolv.conf"
MONITOR_PIDFILE = "userdata/conmon.pid"  # where Podman keeps conmon's; a unit's PIDFile= names it
UPPER = "upper"
WORK = "work"
ROOTFS = "rootfs"

# <runroot>/containers/<id>/
ATTACH_SOCKET = "attach"
CONTAINER_PID = "container.pid"
RUNTIME_LOG = "runtime.log"
RUNTIME_SPEC = "config.runtime.json"

# files the monitor writes that a new start must clear (rpod.container.state.reset_runtime)
RUNTIME_FILES = (EXIT, MONITOR, RESTART, STOP_MARK, STOPPING, HEALTH_LOG)
