"""Marathon's event bus, as served on ``GET /v2/events`` (server-sent
events): task status updates, health changes, deployments and API posts.

Publishing never blocks the scheduler: each subscriber has a bounded queue
and a subscriber that falls that far behind is dropped, as Marathon drops
slow event-stream consumers.
"""

import queue
import threading

from . import clock
from .tasks import AGENT_ID

SUBSCRIBER_QUEUE_SIZE = 10000


class EventBus:
    def __init__(self):
        self._lock = threading.Lock()
        self._subscribers = []

    def subscribe(self, event_types=None):
        """A queue of every later event (only ``event_types`` when given)."""
        subscriber = (queue.Queue(maxsize=SUBSCRIBER_QUEUE_SIZE), frozenset(event_types or ()))
        with self._lock:
            self._subscribers.append(subscriber)
        return subscriber

    def unsubscribe(self, subscriber):
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

    def is_subscribed(self, subscriber):
        with self._lock:
            return subscriber in self._subscribers

    def publish(self, event_type, **fields):
        event = {**fields, "eventType": event_type, "timestamp": clock.timestamp()}
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            events, wanted = subscriber
            if wanted and event_type not in wanted:
                continue
            try:
                events.put_nowait(event)
            except queue.Full:
                self.unsubscribe(subscriber)


def status_update(task, state, message=""):
    """The fields of a ``status_update_event`` for ``task`` now in ``state``."""
    return {
        "slaveId": AGENT_ID,
        "taskId": task.id,
        "taskStatus": state,
        "message": message,
        "appId": task.app_id,
        "host": task.host,
        "ipAddresses": [{"ipAddress": task.host, "protocol": "IPv4"}],
        "ports": list(task.ports),
        "version": task.version,
    }


def health_changed(task, alive):
    return {
        "appId": task.app_id,
        "taskId": task.id,
        "instanceId": task.id.replace(".", ".instance-", 1),
        "version": task.version,
        "alive": alive,
    }


def deployment_fields(deployment, with_current_step=False):
    """What Marathon's deployment events carry: the plan, and for
    ``deployment_info`` the step it is on."""
    shown = deployment.as_json()
    fields = {
        "id": deployment.id,
        "plan": {"id": deployment.id, "version": deployment.version, "steps": shown["steps"]},
    }
    if with_current_step:
        fields["currentStep"] = {"actions": [a.as_json() for a in deployment.current_actions]}
    return fields
