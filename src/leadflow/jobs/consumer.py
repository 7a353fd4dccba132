"""The job consumer: Huey's, with a process per task at once.

Threads of one process take turns on the interpreter lock: an import's writer back from SQLite,
holding the write lock, would wait for a duplicate check's or an export's turn to end at every
statement. Huey's process workers are daemonic processes, which multiprocessing forbids to
start processes of their own (an import's normalizing worker is one), and they outlive a
consumer killed with SIGKILL, going on beside the consumer started in its place: here each
child may start processes and dies with its consumer (Linux). The consumer runs at a lower
priority than the web processes, and an idle worker looks at the queue at least twice a
second.

Checked against Huey 2.5–3.x (`Consumer.get_environment`, `ProcessEnvironment.init_child`)."""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys

from huey.consumer import Consumer, ProcessEnvironment
from huey.consumer_options import ConsumerConfig

PR_SET_PDEATHSIG = 1
# Background work yields the processors to web requests: a user's click waits for no import,
# export or duplicate check (each process of the consumer inherits it).
NICENESS = 10
# Seconds an idle worker waits at most before it looks at the queue again (Huey's default, 10,
# would let an export or the minute's sweep wait that long on an idle consumer).
MAX_DELAY = 0.5


def die_with_parent() -> None:
    """Have the kernel kill this process when its parent dies (Linux; elsewhere nothing)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before the call: nobody would signal
        os._exit(1)


class ChildEnvironment(ProcessEnvironment):
    def init_child(self, process):
        super().init_child(process)
        current = multiprocessing.current_process()
        if current.daemon:
            current.daemon = False
        die_with_parent()


class LeadflowConsumer(Consumer):
    def get_environment(self, worker_type):
        if worker_type == "process":
            return ChildEnvironment(self._graceful_sig, self._interrupt_sig)
        return super().get_environment(worker_type)


def run_consumer(*, jobs: int) -> None:
    """Run the consumer (its scheduler queues the periodic sweeps) until stopped."""
    from django.utils.module_loading import autodiscover_modules
    from huey.contrib.djhuey import HUEY

    autodiscover_modules("tasks")
    os.nice(NICENESS)
    config = ConsumerConfig(workers=jobs, worker_type="process", max_delay=MAX_DELAY)
    config.validate()
    logger = logging.getLogger("huey")
    if not logger.handlers:
        config.setup_logger(logger)
        logger.propagate = False  # the root handler would print every line a second time
    LeadflowConsumer(HUEY, **config.values).run()
