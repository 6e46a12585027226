"""Install the cooperative shims for one exploration, and put everything back.

Three kinds of patch, all recorded so :meth:`Patches.restore` undoes exactly
what was done (and only where nobody rebound the name meanwhile):

1. attributes of ``threading``, ``_thread``, ``time``, ``queue`` and the
   ``Thread`` class;
2. names bound *before* patching, found by identity in every loaded module's
   globals and in the defaults of their functions and methods
   (``from _thread import RLock`` in functools, ``from time import monotonic as
   time`` in queue, ``def f(timer=time.monotonic)``);
3. lock *instances* made before patching (``_lock = threading.Lock()`` at
   module level or in a class body, ``self._lock`` of an object bound at module
   level, the RLock of a ``functools.cached_property``) are wrapped, for the
   exploration, in a cooperative lock around the very same real lock.

The scan of loaded modules is what makes unmodified code work; it costs a few
milliseconds per exploration (bench/overhead.py), not per schedule.
"""

from __future__ import annotations

import _thread
import collections
import concurrent.futures.thread as cft  # imported before any patch: its locks stay real
import functools
import gc
import os
import queue
import select
import socket
import subprocess
import sys
import threading
import time
import types
from typing import Any

from .._sync import io, locks, thread, vtime

_RealLockType: Any = _thread.LockType
_RealRLockType: Any = _thread.RLock
_MISSING = object()

# Modules whose internals must keep the real primitives (or are patched explicitly).
SKIP_MODULES = ("racecheck", "pytest_racecheck", "threading", "_thread", "time", "sys",
                 "importlib", "_frozen_importlib", "_frozen_importlib_external", "builtins",
                 "os", "posix", "select", "socket", "_socket")


_NOT_INSTANCES = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType,
                  types.MethodType, int, float, str, bytes, tuple, list, dict, set, frozenset)
_DESCRIPTORS_WITH_LOCKS: tuple[type, ...] = (functools.cached_property,)


# Objects whose last scan found nothing, with their attribute count then: a class
# or module-level object is rescanned only when it gained or lost attributes, so
# the scan of loaded modules costs milliseconds once, not at every exploration.
_quiet: dict[int, tuple[Any, int]] = {}


# id(module namespace) -> (size, sum of the ids of its values) when its scan found
# nothing; a module whose bindings are unchanged is skipped.
_quiet_modules: dict[int, tuple[int, int]] = {}
# Values that are never a lock, a stand-in target or a holder of either.
_PLAIN_TYPES = frozenset({int, float, str, bytes, bool, type(None), tuple, frozenset,
                          types.ModuleType})


def _is_quiet(obj: Any, size: int) -> bool:
    hit = _quiet.get(id(obj))
    return hit is not None and hit[0] is obj and hit[1] == size


def _replacements() -> dict[int, tuple[Any, Any]]:
    """id(original) -> (original, replacement) for every callable we stand in for."""
    pairs: list[tuple[Any, Any]] = [
        (_thread.allocate_lock, locks.allocate_lock),
        (_thread.RLock, locks.make_rlock),
        (_thread.start_new_thread, thread.start_new_thread),
        (time.sleep, vtime.sleep),
        (time.time, vtime.time),
        (time.monotonic, vtime.monotonic),
        (time.perf_counter, vtime.perf_counter),
        (time.time_ns, vtime.time_ns),
        (time.monotonic_ns, vtime.monotonic_ns),
        (time.perf_counter_ns, vtime.perf_counter_ns),
        (queue.SimpleQueue, queue._PySimpleQueue),  # type: ignore[attr-defined]
        (select.select, io.select_select),
        (os.read, io.os_read),
    ]
    if threading.Lock is not _thread.allocate_lock:  # 3.13+: threading.Lock is the lock type
        pairs.append((threading.Lock, locks.allocate_lock))
    pairs.extend(_FILE_LOCKS.values())
    return {id(orig): (orig, new) for orig, new in pairs}


#: fcntl.flock / lockf and their cooperative stand-ins (made once: ids stay stable).
_FILE_LOCKS = io.file_lock_patches()


class Patches:
    """The set of patches of one exploration; ``restore()`` is idempotent."""

    def __init__(self) -> None:
        self._undo: list[tuple[Any, str, Any, Any]] = []  # (target, name, old, new)
        self._dict_undo: list[tuple[dict[str, Any], str, Any, Any]] = []
        self._defaults_undo: list[tuple[Any, str, Any, Any]] = []
        self._cell_undo: list[tuple[Any, Any, Any]] = []
        self._wrappers: dict[int, Any] = {}  # id(real lock) -> its one wrapper
        self._reps: dict[int, tuple[Any, Any]] = {}  # see _replacements

    # ----------------------------------------------------------------- install

    def install(self) -> None:
        try:
            self._install()
        except BaseException:
            self.restore()
            raise

    def _install(self) -> None:
        reps = self._reps = _replacements()  # before the patches: the real functions
        rlock = locks.make_rlock
        self._set(_thread, "allocate_lock", locks.allocate_lock)
        if hasattr(_thread, "allocate"):
            self._set(_thread, "allocate", locks.allocate_lock)
        self._set(_thread, "RLock", rlock)
        self._set(_thread, "start_new_thread", thread.start_new_thread)
        if hasattr(_thread, "start_new"):
            self._set(_thread, "start_new", thread.start_new_thread)
        self._set(threading, "Lock", locks.allocate_lock)
        self._set(threading, "_allocate_lock", locks.allocate_lock)
        self._set(threading, "RLock", rlock)
        self._set(threading, "_CRLock", rlock)
        self._set(threading, "_time", vtime.monotonic)
        self._set(threading.Thread, "start", thread.start)
        self._set(threading.Thread, "join", thread.join)
        self._set(threading.Thread, "is_alive", thread.is_alive)
        self._set(cft.ThreadPoolExecutor, "shutdown",
                  thread.ordered_shutdown(cft.ThreadPoolExecutor.__dict__["shutdown"]))
        self._set(cft.ThreadPoolExecutor, "submit",
                  thread.adopting_submit(cft.ThreadPoolExecutor.__dict__["submit"]))
        for name in ("sleep", "time", "monotonic", "perf_counter",
                     "time_ns", "monotonic_ns", "perf_counter_ns"):
            self._set(time, name, getattr(vtime, name))
        self._set(queue, "SimpleQueue", queue._PySimpleQueue)  # type: ignore[attr-defined]
        for cls in io.SELECTOR_CLASSES:
            self._set(cls, "select", io.cooperative_select(cls.__dict__["select"]))
        self._set(select, "select", io.select_select)
        self._set(os, "read", io.os_read)
        if _FILE_LOCKS:
            import fcntl

            for name, (_real, coop) in _FILE_LOCKS.items():
                self._set(fcntl, name, coop)
        for name, method in io.socket_patches().items():
            self._set(socket.socket, name, method)
        for name in ("wait", "communicate"):
            self._set(subprocess.Popen, name, thread.unmanaged(subprocess.Popen.__dict__[name]))
        self._scan_modules(reps)

    def _set(self, target: Any, name: str, new: Any) -> None:
        old = target.__dict__.get(name, _MISSING) if isinstance(target, type) else getattr(
            target, name, _MISSING)
        setattr(target, name, new)
        self._undo.append((target, name, old, new))

    def _scan_modules(self, reps: dict[int, tuple[Any, Any]]) -> None:
        fresh: list[types.ModuleType] = []
        for modname, mod in list(sys.modules.items()):
            if not isinstance(mod, types.ModuleType) or modname.startswith(SKIP_MODULES):
                continue
            self._scan_module(modname, mod, reps, fresh)
        # Modules imported afresh and kept out of sys.modules (CPython's test_queue
        # holds ``import_fresh_module('queue', fresh=['_queue'])`` in a global).
        seen: set[int] = set()
        while fresh:
            mod = fresh.pop()
            if id(mod) not in seen and not mod.__name__.startswith(SKIP_MODULES):
                seen.add(id(mod))
                self._scan_module(mod.__name__, mod, reps, fresh)

    def scan_globals(self, roots: list[Any]) -> None:
        """Patch the module globals of ``roots`` whose module is not in ``sys.modules``.

        A test module loaded with ``importlib.util.spec_from_file_location`` and
        never registered (a script's helper, a benchmark loading examples) binds
        ``from threading import Lock`` where the module scan does not look.
        """
        for root in roots:
            namespace = getattr(root, "__globals__", None)
            if not isinstance(namespace, dict):
                continue
            modname = str(namespace.get("__name__", "?"))
            registered = sys.modules.get(modname)
            if registered is None or getattr(registered, "__dict__", None) is not namespace:
                self._scan_namespace(modname, namespace, self._reps, [])

    def _scan_module(self, modname: str, mod: types.ModuleType,
                     reps: dict[int, tuple[Any, Any]], fresh: list[types.ModuleType]) -> None:
        try:
            namespace = vars(mod)
        except TypeError:
            return
        self._scan_namespace(modname, namespace, reps, fresh)

    def _scan_namespace(self, modname: str, namespace: dict[str, Any],
                        reps: dict[int, tuple[Any, Any]],
                        fresh: list[types.ModuleType]) -> None:
        values = list(namespace.values())
        fingerprint = (len(values), sum(map(id, values)))
        if _quiet_modules.get(id(namespace)) == fingerprint:
            return  # same bindings as when a scan found nothing to patch here
        before = self._hits()
        held = len(fresh)
        for key, value in list(namespace.items()):
            kind = type(value)
            if kind is types.ModuleType:
                if sys.modules.get(value.__name__) is not value:
                    fresh.append(value)
                continue
            if kind in _PLAIN_TYPES:
                continue
            if value is not queue._PySimpleQueue and _is_c_simple_queue(value):  # type: ignore[attr-defined]
                # A fresh import of _queue has a SimpleQueue class of its own.
                new = namespace.get("_PySimpleQueue", queue._PySimpleQueue)  # type: ignore[attr-defined]
                namespace[key] = new
                self._dict_undo.append((namespace, key, value, new))
                continue
            self._patch_value(namespace, key, value, reps, modname)
            if isinstance(value, type) and getattr(value, "__module__", None) == modname:
                self._scan_class(value, reps, modname)
            elif kind is types.FunctionType:
                self._patch_defaults(value, reps)
            else:
                self._scan_instance(value, f"{modname}.{key}")
        if self._hits() == before and len(fresh) == held:  # its fresh modules: every time
            _quiet_modules[id(namespace)] = fingerprint

    def _hits(self) -> int:
        return len(self._undo) + len(self._dict_undo) + len(self._defaults_undo)

    def _scan_class(self, cls: type, reps: dict[int, tuple[Any, Any]], modname: str) -> None:
        attrs = vars(cls)
        if _is_quiet(cls, len(attrs)):
            return
        before = self._hits()
        self._scan_class_attrs(cls, attrs, reps, modname)
        if self._hits() == before:
            _quiet[id(cls)] = (cls, len(attrs))

    def _scan_class_attrs(self, cls: type, attrs: Any, reps: dict[int, tuple[Any, Any]],
                          modname: str) -> None:
        for key, value in list(attrs.items()):
            if type(value) is _RealLockType or type(value) is _RealRLockType:
                new = self._wrap_lock(value, f"{modname}.{cls.__qualname__}.{key}")
                self._set(cls, key, new)
            elif isinstance(value, types.FunctionType):
                self._patch_defaults(value, reps)
            elif isinstance(value, _DESCRIPTORS_WITH_LOCKS):
                # functools.cached_property (3.11) keeps an RLock made at class creation.
                self._scan_instance(value, f"{modname}.{cls.__qualname__}.{key}")
            elif isinstance(value, (staticmethod, classmethod)) and isinstance(
                value.__func__, types.FunctionType
            ):
                self._patch_defaults(value.__func__, reps)

    def _stand_in(self, value: Any, reps: dict[int, tuple[Any, Any]], label: str) -> Any:
        """What goes in place of ``value`` for the exploration, or _MISSING.

        A real function racecheck shims (``time.sleep`` bound before patching,
        kept on an object: pykka's ``Runtime(sleep_func=time.sleep)``) gets its
        shim, a real lock its one cooperative wrapper.
        """
        hit = reps.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        if type(value) is _RealLockType or type(value) is _RealRLockType:
            return self._wrap_lock(value, label)
        return _MISSING

    def _patch_value(self, namespace: dict[Any, Any], key: Any, value: Any,
                     reps: dict[int, tuple[Any, Any]], prefix: str) -> None:
        new = self._stand_in(value, reps, f"{prefix}.{key}")
        if new is not _MISSING:
            namespace[key] = new
            self._dict_undo.append((namespace, key, value, new))

    def _patch_dict(self, attrs: dict[Any, Any], label: str) -> None:
        """Patch the values of a dict or an object's ``__dict__`` (see ``_stand_in``)."""
        for key, value in list(attrs.items()):
            self._patch_value(attrs, key, value, self._reps, label)

    def scan_roots(self, roots: list[Any], limit: int = 5000,
                   labels: list[str] | None = None) -> list[Any]:
        """Wrap real locks reachable from the code under test (closures, arguments, fixtures).

        Objects made before the exploration and handed to it, such as a pytest
        fixture captured by the test function, are found through function
        closures, defaults, bound ``self``, containers and instance dicts, a few
        levels deep and at most ``limit`` objects.  Returns the wrappers it made.
        """
        dicts_before, cells_before = len(self._dict_undo), len(self._cell_undo)
        reps = self._reps
        seen: set[int] = set()
        names = labels or [_label_of(r) for r in roots]
        # Breadth first: what the test holds directly is found before the limit.
        frontier: collections.deque[tuple[Any, str, int]] = collections.deque(
            (r, name, 0) for r, name in zip(roots, names, strict=True))
        while frontier and len(seen) < limit:
            obj, label, depth = frontier.popleft()
            if id(obj) in seen or depth > 4:
                continue
            seen.add(id(obj))
            children: list[tuple[Any, str]] = []
            if isinstance(obj, types.FunctionType):
                for name, cell in zip(obj.__code__.co_freevars, obj.__closure__ or (),
                                      strict=False):
                    try:
                        value = cell.cell_contents
                    except ValueError:
                        continue
                    new = self._stand_in(value, reps, f"{label}.{name}")
                    if new is _MISSING:
                        children.append((value, name))
                    else:
                        cell.cell_contents = new
                        self._cell_undo.append((cell, value, new))
                children.extend((d, "default") for d in obj.__defaults__ or ())
            elif isinstance(obj, functools.partial):
                children.append((obj.func, label))
                children.extend((a, label) for a in obj.args)
                children.extend((v, k) for k, v in obj.keywords.items())
            elif isinstance(obj, types.MethodType):
                children.append((obj.__self__, "self"))
                children.append((obj.__func__, obj.__func__.__name__))
            elif isinstance(obj, dict):
                self._patch_dict(obj, label)
                children.extend((v, f"{label}[{k!r}]") for k, v in list(obj.items())[:500])
            elif isinstance(obj, (list, tuple, set, frozenset)):
                children.extend((v, label) for v in list(obj)[:500])
            elif not isinstance(obj, _NOT_INSTANCES) and not _ours(obj):
                attrs = getattr(obj, "__dict__", None)
                if isinstance(attrs, dict):
                    self._patch_dict(attrs, label)
                    children.extend((v, f"{label}.{k}") for k, v in list(attrs.items())[:200])
            frontier.extend((child, name, depth + 1) for child, name in children)
        made = ([entry[3] for entry in self._dict_undo[dicts_before:]]
                + [entry[2] for entry in self._cell_undo[cells_before:]])
        return [new for new in made if isinstance(new, locks._CoopBase)]

    def take_over(self, ids: set[int]) -> int:
        """Wrap the real locks with these ids wherever a dict or a cell holds them.

        A schedule's child found them when it stalled (``runner._wrap_locks_near``);
        a forked child shares the parent's addresses, so the ids name the very
        objects here.  Searches the heap once per stall, which is rare.
        """
        if not ids:
            return 0
        before = len(self._dict_undo) + len(self._cell_undo)
        cell_type = type((lambda: ids).__closure__[0])  # type: ignore[index]
        own = {id(w.__dict__) for w in self._wrappers.values()}  # a wrapper holds its lock
        for obj in gc.get_objects():
            attrs = obj if type(obj) is dict else _instance_dict(obj)
            if attrs is not None and id(attrs) not in own:
                if any(id(v) in ids for v in list(attrs.values())):
                    for key, value in list(attrs.items()):
                        if id(value) in ids and type(value) in (_RealLockType, _RealRLockType):
                            new = self._wrap_lock(value, f"{key}")
                            attrs[key] = new
                            self._dict_undo.append((attrs, key, value, new))
            elif type(obj) is cell_type:
                try:
                    value = obj.cell_contents
                except ValueError:
                    continue
                if id(value) in ids and type(value) in (_RealLockType, _RealRLockType):
                    new = self._wrap_lock(value, "closure")
                    obj.cell_contents = new
                    self._cell_undo.append((obj, value, new))
        return len(self._dict_undo) + len(self._cell_undo) - before

    def _scan_instance(self, obj: Any, label: str) -> None:
        """Wrap real locks stored on a module-level object (``REGISTRY = Registry()``)."""
        if isinstance(obj, _NOT_INSTANCES) or _ours(obj):
            return
        try:
            attrs = object.__getattribute__(obj, "__dict__")
        except (AttributeError, TypeError):
            return
        if isinstance(attrs, dict) and len(attrs) <= 200 and not _is_quiet(obj, len(attrs)):
            before = self._hits()
            self._patch_dict(attrs, label)
            if self._hits() == before:
                _quiet[id(obj)] = (obj, len(attrs))

    def _wrap_lock(self, real: Any, label: str) -> Any:
        """The one cooperative wrapper of ``real`` in this exploration.

        Every reference to one real lock (a module global, a Queue's Condition,
        an argument) must get the same wrapper: each wrapper keeps its own
        waiters, and a release through one would not wake a thread blocked on
        another (a false deadlock).
        """
        known = self._wrappers.get(id(real))
        if known is not None and known._real is real:
            return known
        wrapper: Any = (locks.Lock(real, label=f"Lock {label}") if type(real) is _RealLockType
                        else locks.RLock(real, label=f"RLock {label}"))
        self._wrappers[id(real)] = wrapper
        return wrapper

    def _patch_defaults(self, fn: types.FunctionType, reps: dict[int, tuple[Any, Any]]) -> None:
        defaults = fn.__defaults__
        if defaults and any(id(d) in reps for d in defaults):
            new = tuple(reps[id(d)][1] if id(d) in reps and reps[id(d)][0] is d else d
                        for d in defaults)
            fn.__defaults__ = new
            self._defaults_undo.append((fn, "__defaults__", defaults, new))
        kwdefaults = fn.__kwdefaults__
        if kwdefaults and any(id(d) in reps for d in kwdefaults.values()):
            newkw = {k: reps[id(d)][1] if id(d) in reps and reps[id(d)][0] is d else d
                     for k, d in kwdefaults.items()}
            fn.__kwdefaults__ = newkw
            self._defaults_undo.append((fn, "__kwdefaults__", kwdefaults, newkw))

    # ----------------------------------------------------------------- restore

    def restore(self) -> None:
        """Undo every patch, newest first; names rebound by the user meanwhile are left alone."""
        thread.restore_adopted()
        while self._cell_undo:
            cell, old_value, new_value = self._cell_undo.pop()
            if cell.cell_contents is new_value:
                cell.cell_contents = old_value
        while self._defaults_undo:
            fn, attr, old, new = self._defaults_undo.pop()
            if getattr(fn, attr) is new:
                setattr(fn, attr, old)
        while self._dict_undo:
            namespace, key, old, new = self._dict_undo.pop()
            if namespace.get(key, _MISSING) is new:
                namespace[key] = old
        while self._undo:
            target, name, old, new = self._undo.pop()
            current = target.__dict__.get(name, _MISSING) if isinstance(target, type) else getattr(
                target, name, _MISSING)
            if current is not new:
                continue
            if old is _MISSING:
                delattr(target, name)
            else:
                setattr(target, name, old)
        self._wrappers.clear()


def _is_c_simple_queue(value: Any) -> bool:
    """The C ``SimpleQueue`` class, of ``_queue`` or of a fresh import of it."""
    return (isinstance(value, type) and value.__name__ == "SimpleQueue"
            and getattr(value, "__module__", None) == "_queue")


def _label_of(obj: Any) -> str:
    """How a report names an object the scan starts from: its name, else its type."""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    return name if isinstance(name, str) else f"<{type(obj).__name__}>"


def _ours(obj: Any) -> bool:
    """racecheck's own objects (a cooperative lock holds its real lock): never wrapped into."""
    return isinstance(obj, locks._CoopBase)


def _instance_dict(obj: Any) -> dict[str, Any] | None:
    """An instance's ``__dict__`` (3.11+ keeps most of them inline, not as dict objects)."""
    if isinstance(obj, (type, types.ModuleType)) or not type(obj).__dictoffset__ or _ours(obj):
        return None
    try:
        attrs = object.__getattribute__(obj, "__dict__")
    except Exception:
        return None
    return attrs if type(attrs) is dict else None


def snapshot() -> dict[str, Any]:
    """The attributes racecheck patches, for tests that check nothing leaked."""
    names = {
        "_thread": (_thread, ("allocate_lock", "RLock", "start_new_thread")),
        "threading": (threading, ("Lock", "RLock", "_CRLock", "_allocate_lock", "_time",
                                  "Condition", "Semaphore", "Event", "Barrier", "Timer")),
        "threading.Thread": (threading.Thread, ("start", "join", "is_alive", "run")),
        "time": (time, ("sleep", "time", "monotonic", "perf_counter",
                        "time_ns", "monotonic_ns", "perf_counter_ns")),
        "queue": (queue, ("Queue", "SimpleQueue", "LifoQueue", "PriorityQueue", "time")),
        "concurrent.futures.thread": (cft, ("ThreadPoolExecutor", "_global_shutdown_lock")),
        "ThreadPoolExecutor": (cft.ThreadPoolExecutor, ("shutdown",)),
    }
    from .._sync.io import SELECTOR_CLASSES, SOCKET_READERS

    names.update({f"selectors.{cls.__name__}": (cls, ("select",)) for cls in SELECTOR_CLASSES})
    names.update({"select": (select, ("select",)), "os": (os, ("read",)),
                  "socket.socket": (socket.socket, SOCKET_READERS),
                  "subprocess.Popen": (subprocess.Popen, ("wait", "communicate"))})
    return {f"{label}.{n}": getattr(obj, n, None) for label, (obj, ns) in names.items() for n in ns}
