"""The KV store of the Consul stand-in: entries, tombstones and transactions.

Callers hold the state lock and pass the raft index of the write; nothing
here speaks HTTP. Index rules follow Consul's state store: an entry keeps its
CreateIndex, a write that changes nothing keeps its ModifyIndex, and a
deletion leaves a tombstone so a listing's index moves when a key goes away.
"""

import base64
import re
from dataclasses import dataclass

MAX_VALUE_SIZE = 512 * 1024
MAX_TXN_OPERATIONS = 64
# The key rule of newer Consul: no leading "/", no "..", a small alphabet.
KEY_PATTERN = re.compile(r"[A-Za-z0-9,\-_./]*")


class KVError(Exception):
    """A request the store refuses; ``status`` is the HTTP status to answer."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class TxnRollbackError(Exception):
    """A transaction operation failed; nothing of the transaction is applied."""

    def __init__(self, op_index, what):
        super().__init__(what)
        self.op_index = op_index
        self.what = what


@dataclass
class Entry:
    key: str
    value: bytes
    flags: int
    create_index: int
    modify_index: int

    def to_json(self, with_value=True):
        value = None
        if with_value and self.value:
            value = base64.b64encode(self.value).decode()
        return {
            "LockIndex": 0,
            "Key": self.key,
            "Flags": self.flags,
            "Value": value,
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }


def validate_key(key):
    """Raise KVError(400) for a key newer Consul refuses."""
    if key.startswith("/"):
        raise KVError(400, f"Invalid key {key!r}: must not begin with a '/'")
    if ".." in key:
        raise KVError(400, f"Invalid key {key!r}: must not contain '..'")
    if not KEY_PATTERN.fullmatch(key):
        raise KVError(400, f"Invalid key {key!r}: only A-Z a-z 0-9 , - _ . / are allowed")


class KVStore:
    def __init__(self):
        self.entries = {}
        self.tombstones = {}

    # Reads ---------------------------------------------------------------

    def table_index(self):
        """The highest index of the KV table, deletions included."""
        indexes = [entry.modify_index for entry in self.entries.values()]
        indexes.extend(self.tombstones.values())
        return max(indexes, default=0)

    def get(self, key):
        """(index, entry or None) as Consul's KV endpoint reports them."""
        entry = self.entries.get(key)
        if entry is not None:
            return entry.modify_index, entry
        return self.table_index(), None

    def under(self, prefix):
        return [self.entries[key] for key in sorted(self.entries) if key.startswith(prefix)]

    def list(self, prefix):
        """(index, entries under prefix): the index includes deletions under it."""
        entries = self.under(prefix)
        if not prefix:
            return self.table_index(), entries
        indexes = [entry.modify_index for entry in entries]
        indexes.extend(idx for key, idx in self.tombstones.items() if key.startswith(prefix))
        index = max(indexes, default=0)
        return (index or self.table_index()), entries

    def keys(self, prefix, separator):
        index, entries = self.list(prefix)
        found = []
        for entry in entries:
            key = entry.key
            if separator:
                cut = key.find(separator, len(prefix))
                if cut != -1:
                    key = key[: cut + len(separator)]
            if key not in found:
                found.append(key)
        return index, found

    # Writes (the caller passes the raft index of this write) ---------------

    def set(self, key, value, flags, index):
        existing = self.entries.get(key)
        if existing is not None:
            if existing.value == value and existing.flags == flags:
                return  # Consul keeps ModifyIndex when nothing changed
            self.entries[key] = Entry(key, value, flags, existing.create_index, index)
        else:
            self.entries[key] = Entry(key, value, flags, index, index)

    def cas(self, key, value, flags, cas_index, index):
        """Set only if ModifyIndex == cas_index (0: only if absent); True when set."""
        existing = self.entries.get(key)
        if cas_index == 0 and existing is not None:
            return False
        if cas_index != 0 and (existing is None or existing.modify_index != cas_index):
            return False
        self.set(key, value, flags, index)
        return True

    def delete(self, key, index):
        if self.entries.pop(key, None) is not None:
            self.tombstones[key] = index

    def delete_tree(self, prefix, index):
        for entry in self.under(prefix):
            self.delete(entry.key, index)

    def delete_cas(self, key, cas_index, index):
        """Delete only if ModifyIndex == cas_index; a missing key counts as deleted."""
        existing = self.entries.get(key)
        if existing is None:
            return True
        if existing.modify_index != cas_index:
            return False
        self.delete(key, index)
        return True

    # Transactions --------------------------------------------------------

    def apply_txn(self, operations, index):
        """Apply KV operations all-or-nothing; returns the Results list.

        Works on a copy and swaps it in only when every operation succeeded,
        so a rollback leaves the store as it was.
        """
        scratch = KVStore()
        scratch.entries = dict(self.entries)
        scratch.tombstones = dict(self.tombstones)
        results = []
        for op_index, operation in enumerate(operations):
            result = scratch.apply_txn_operation(op_index, operation, index)
            results.extend(result)
        self.entries, self.tombstones = scratch.entries, scratch.tombstones
        return results

    def apply_txn_operation(self, op_index, op, index):
        verb, key = op["Verb"], op["Key"]
        if verb == "set":
            self.set(key, op["Value"], op["Flags"], index)
            return [self.entries[key].to_json(with_value=False)]
        if verb == "cas":
            if not self.cas(key, op["Value"], op["Flags"], op["Index"], index):
                raise TxnRollbackError(op_index, f'failed to set key "{key}", index is stale')
            return [self.entries[key].to_json(with_value=False)]
        if verb == "get":
            return [self.require(op_index, key).to_json()]
        if verb == "get-tree":
            return [entry.to_json() for entry in self.under(key)]
        if verb == "check-index":
            if self.require(op_index, key).modify_index != op["Index"]:
                raise TxnRollbackError(
                    op_index, f"current modify index {op['Index']} does not match"
                )
            return [self.entries[key].to_json(with_value=False)]
        if verb == "check-not-exists":
            if key in self.entries:
                raise TxnRollbackError(op_index, f'key "{key}" exists')
            return []
        if verb == "delete":
            self.delete(key, index)
            return []
        if verb == "delete-tree":
            self.delete_tree(key, index)
            return []
        if verb == "delete-cas":
            if not self.delete_cas(key, op["Index"], index):
                raise TxnRollbackError(op_index, f'failed to delete key "{key}", index is stale')
            return []
        raise TxnRollbackError(op_index, f'unknown KV verb "{verb}"')

    def require(self, op_index, key):
        entry = self.entries.get(key)
        if entry is None:
            raise TxnRollbackError(op_index, f'key "{key}" doesn\'t exist')
        return entry
