"""Registries of envs, agents and cost models, with entry-point plugins.

Built-ins: every module in ``archgym.envs``, ``archgym.agents`` and ``archgym.cost_models``
registers its own names at import; the registry imports those packages' modules on first use
(so modules keep heavy imports inside functions).

Plugins: a third-party package declares entry points in its ``pyproject.toml``::

    [project.entry-points."archgym.envs"]
    "mylab/Widget-v0" = "mylab.envs:make_widget_env"      # a factory returning a DSEEnv

    [project.entry-points."archgym.agents"]
    "my-agent" = "mylab.agents:MyAgent"                   # an Agent subclass

    [project.entry-points."archgym.cost_models"]
    "widget-sim" = "mylab.models:WidgetSim"               # a CostModel factory

Entry points are loaded lazily: listing them imports nothing; ``make`` loads the one asked for.
An unknown name raises :class:`~archgym.errors.RegistryError` with the closest registered names.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from archgym.errors import ConfigError, RegistryError

__all__ = [
    "Spec",
    "EnvSpec",
    "register",
    "register_agent",
    "register_cost_model",
    "make",
    "make_agent",
    "make_cost_model",
    "env_spec",
    "list_envs",
    "list_agents",
    "list_cost_models",
]

ENV_ID_RE = re.compile(r"^(?:[\w.-]+/)?[\w.-]+-v\d+$")


@dataclass
class Spec:
    """A registered name.

    Attributes:
        name: Env id (``namespace/Name-vN``), agent name or cost-model name.
        entry_point: The factory, or ``"module:attr"`` to import on first use.
        description: One line for ``archgym list``.
        kwargs: Default keyword arguments passed to the factory.
        source: ``"archgym"`` for built-ins, else the distribution that provided it.
    """

    name: str
    entry_point: Callable[..., Any] | str
    description: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)
    source: str = "archgym"

    def load(self) -> Callable[..., Any]:
        """The factory, importing it if given as ``"module:attr"``."""
        if callable(self.entry_point):
            return self.entry_point
        module, _, attr = self.entry_point.partition(":")
        try:
            obj: Any = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise RegistryError(
                f"{self.name!r} is registered with entry point {self.entry_point!r} "
                f"(from {self.source}), which could not be loaded: {exc}"
            ) from exc
        self.entry_point = obj
        if self.description.startswith("(plugin from"):  # a plugin describes itself
            summary = (inspect.getdoc(obj) or "").strip().split("\n")[0].strip()
            if summary:
                self.description = f"{summary} {self.description}"
        return obj


@dataclass
class EnvSpec(Spec):
    """A registered env: what the registry, the runner and the CLI know of it before it is built.

    Attributes:
        cost_models: Short cost-model names the factory resolves itself (``cost_model="learned"``
            on Kernel-v1); any other string is resolved with :func:`make_cost_model`.
        default_cost_model: The cost model used when none is given (for listings).
        report_metrics: Metrics that summaries and Pareto tables show beside the objective's.
        workload_type: The type the factory's ``workload`` argument becomes (for listings).
    """

    cost_models: tuple[str, ...] = ()
    default_cost_model: str = ""
    report_metrics: tuple[str, ...] = ()
    workload_type: type | None = None


class _Registry:
    def __init__(self, kind: str, packages: tuple[str, ...], group: str) -> None:
        self.kind = kind
        self.packages = packages
        self.group = group
        self.specs: dict[str, Spec] = {}
        self.broken: dict[str, str] = {}
        self._loaded = False
        self._loading = False

    def load_packages(self) -> None:
        """Import every public module of the built-in packages (each registers its names)."""
        for package in self.packages:
            pkg = importlib.import_module(package)
            for info in pkgutil.iter_modules(pkg.__path__):
                if info.name.startswith("_"):
                    continue
                module = f"{package}.{info.name}"
                try:
                    importlib.import_module(module)
                except Exception as exc:  # noqa: BLE001 - one broken module must not hide the rest
                    self.broken[module] = f"{type(exc).__name__}: {exc}"

    def _ensure_loaded(self) -> None:
        if self._loaded or self._loading:
            return
        self._loading = True
        try:
            self.load_packages()
            for ep in metadata.entry_points(group=self.group):
                if ep.name not in self.specs:
                    dist = getattr(getattr(ep, "dist", None), "name", "a plugin")
                    cls = EnvSpec if self is _ENVS else Spec
                    self.specs[ep.name] = cls(
                        ep.name, ep.value, f"(plugin from {dist})", source=str(dist)
                    )
        finally:
            self._loading = False
        self._loaded = True

    def add(self, spec: Spec) -> None:
        if spec.name in self.specs and self.specs[spec.name].source == spec.source:
            existing = self.specs[spec.name]
            if existing.entry_point is spec.entry_point or existing.entry_point == spec.entry_point:
                return  # re-import of the same module
            raise RegistryError(
                f"{self.kind} {spec.name!r} is already registered (from {existing.source}); "
                "choose another name or bump its version"
            )
        self.specs[spec.name] = spec

    def get(self, name: str) -> Spec:
        self._ensure_loaded()
        if name in self.specs:
            return self.specs[name]
        names = sorted(self.specs)
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        broken = "".join(
            f" Module {m} failed to import and may define it: {err}."
            for m, err in self.broken.items()
        )
        raise RegistryError(
            f"unknown {self.kind} {name!r}.{hint} Registered {self.kind}s: {', '.join(names)} "
            f"(see `archgym list` or archgym.list_{self.kind.replace(' ', '_')}s()).{broken}"
        )

    def all(self) -> dict[str, Spec]:
        self._ensure_loaded()
        return dict(sorted(self.specs.items()))


# Domains register their own cost models, so the cost-model registry loads the domains too.
_ENVS = _Registry("env", ("archgym.envs",), "archgym.envs")
_AGENTS = _Registry("agent", ("archgym.agents",), "archgym.agents")
_COST_MODELS = _Registry(
    "cost model", ("archgym.cost_models", "archgym.envs"), "archgym.cost_models"
)


def register(
    env_id: str,
    entry_point: Callable[..., Any] | str,
    description: str = "",
    source: str = "archgym",
    *,
    cost_models: tuple[str, ...] = (),
    default_cost_model: str = "",
    report_metrics: tuple[str, ...] = (),
    workload_type: type | None = None,
    **kwargs: Any,
) -> None:
    """Register an env factory under a versioned id ``namespace/Name-vN``.

    The env becomes available to :func:`make`, to ``archgym run --env`` and, as
    ``gymnasium.make(env_id)``, to any Gymnasium code.

    Args:
        env_id: E.g. ``"archgym/Systolic-v0"``; bump N whenever results could change.
        entry_point: Callable returning a :class:`~archgym.env.DSEEnv`, or ``"module:attr"``.
        description: One line for ``archgym list``.
        source: Who provides it (shown in listings and errors).
        cost_models: Short cost-model names the factory resolves itself (see :class:`EnvSpec`).
        default_cost_model: Name of the cost model used when none is given.
        report_metrics: Metrics that summaries show beside the objective's.
        workload_type: The workload type of the env (for listings).
        **kwargs: Defaults passed to the factory (overridden by ``make``'s kwargs).
    """
    if not ENV_ID_RE.match(env_id):
        raise RegistryError(
            f"env id must look like 'namespace/Name-vN' (e.g. 'archgym/Systolic-v0'), got {env_id!r}"
        )
    spec = EnvSpec(
        env_id,
        entry_point,
        description,
        dict(kwargs),
        source,
        cost_models=tuple(cost_models),
        default_cost_model=default_cost_model,
        report_metrics=tuple(report_metrics),
        workload_type=workload_type,
    )
    _ENVS.add(spec)
    _register_gymnasium(env_id)


def _register_gymnasium(env_id: str) -> None:
    """Make ``gymnasium.make(env_id)`` build the env through :func:`make`."""
    import gymnasium

    if env_id not in gymnasium.registry:
        gymnasium.register(id=env_id, entry_point=functools.partial(make, env_id))


def register_agent(
    name: str, entry_point: Callable[..., Any] | str, description: str = "", source: str = "archgym"
) -> None:
    """Register an :class:`~archgym.agents.Agent` class (or factory) under ``name``."""
    _AGENTS.add(Spec(name, entry_point, description, {}, source))


def register_cost_model(
    name: str,
    entry_point: Callable[..., Any] | str,
    description: str = "",
    source: str = "archgym",
    **kwargs: Any,
) -> None:
    """Register a cost-model factory under ``name``.

    ``make_cost_model("name:ARG")`` calls the factory with ARG as its first argument (e.g.
    ``"proxy:proxies/accel.json"``).
    """
    _COST_MODELS.add(Spec(name, entry_point, description, dict(kwargs), source))


def load_builtin_envs() -> None:
    """Import the built-in domains (``archgym.envs.*``), which registers their envs and cost
    models with archgym and with Gymnasium; plugins' entry points stay lazy. ``import archgym``
    calls it, so ``gymnasium.make("archgym/Systolic-v0")`` works after it."""
    _ENVS.load_packages()


def env_spec(env_id: str) -> EnvSpec:
    """The :class:`EnvSpec` of a registered env; RegistryError with suggestions if unknown."""
    spec = _ENVS.get(env_id)
    assert isinstance(spec, EnvSpec)
    return spec


def make(env_id: str, **kwargs: Any) -> Any:
    """Build a registered environment.

    Args:
        env_id: A registered id, e.g. ``"archgym/Systolic-v0"``.
        **kwargs: Passed to the env factory (workload, objective, constraints, mode...).
            ``cost_model`` may be a registered cost-model name (``"scalesim"``,
            ``"proxy:path.json"``), resolved with :func:`make_cost_model`, or a short name the
            env lists in :attr:`EnvSpec.cost_models`, passed to its factory unchanged.
            ``objective`` and ``constraints`` are applied by archgym when the factory does not
            take them, so a plugin factory may ignore them.

    Returns:
        The env, with ``env.env_id``, ``env.spec`` (a Gymnasium ``EnvSpec``) and the
        registration's ``report_metrics`` set.

    Raises:
        RegistryError: Unknown id (with "did you mean").
        ConfigError: The factory rejected an argument.
    """
    spec = env_spec(env_id)
    factory = spec.load()
    merged = {**spec.kwargs, **kwargs}
    cm = merged.get("cost_model")
    if isinstance(cm, str) and cm not in spec.cost_models:
        merged["cost_model"] = make_cost_model(cm)
    later = {
        k: merged.pop(k)
        for k in ("objective", "constraints")
        if k in merged and not _takes(factory, k)
    }
    if spec.source == "archgym" or not _takes(factory, "\0"):  # built-ins forward to DSEEnv
        _check_env_kwargs(env_id, factory, merged)
    try:
        env = factory(**merged)
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            _check_env_kwargs(env_id, factory, merged)
        raise ConfigError(f"{env_id}: bad argument: {exc}") from exc
    if later:
        env.set_objective(later.get("objective"), later.get("constraints", ()))
    env.env_id = env_id
    if spec.report_metrics:
        env.report_metrics = spec.report_metrics
    env.spec = _gymnasium_spec(env_id, merged)
    env.cost_model.bind_env(env)  # a cost model tied to one env (a proxy) refuses any other
    return env


def _check_env_kwargs(env_id: str, factory: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    """Refuse a keyword neither the factory nor (when it forwards ``**kwargs``) ``DSEEnv``
    takes, naming the accepted keys with a did-you-mean (see ``archgym describe``).

    Raises:
        ConfigError: An unknown keyword.
    """
    from archgym.env_options import env_options

    options = env_options(factory)
    if not options:
        return  # no signature to check against: the factory's own TypeError decides
    accepted = [o["name"] for o in options]
    unknown = [k for k in kwargs if k not in accepted and k not in ("objective", "constraints")]
    if not unknown:
        return
    hints = []
    for k in unknown:
        close = difflib.get_close_matches(k, accepted, n=1, cutoff=0.6)
        hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise ConfigError(
        f"{env_id} has no option {', '.join(hints)}; accepted options: {', '.join(accepted)} "
        f"(see `archgym describe {env_id}`)"
    )


def _takes(factory: Callable[..., Any], name: str) -> bool:
    """Whether ``factory`` accepts the keyword ``name`` (by name or through ``**kwargs``)."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return True
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _gymnasium_spec(env_id: str, kwargs: dict[str, Any]) -> Any:
    import gymnasium

    _register_gymnasium(env_id)  # a plugin's env registers on first use
    base = gymnasium.spec(env_id)
    return dataclasses.replace(base, kwargs=dict(kwargs))


def make_agent(name: str, space: Any, seed: int = 0, **kwargs: Any) -> Any:
    """Build a registered agent for ``space`` with ``seed``; ``kwargs`` are hyperparameters
    (and ``n_objectives``/``n_constraints``), validated by the agent."""
    return _AGENTS.get(name).load()(space, seed=seed, **kwargs)


def make_cost_model(name: str, **kwargs: Any) -> Any:
    """Build a registered cost model; ``"name:ARG"`` passes ARG as first argument."""
    base, sep, arg = name.partition(":")
    spec = _COST_MODELS.get(base)
    factory = spec.load()
    merged = {**spec.kwargs, **kwargs}
    return factory(arg, **merged) if sep else factory(**merged)


def list_envs() -> dict[str, Spec]:
    """Registered env ids -> specs (built-ins and plugins, sorted)."""
    return _ENVS.all()


def list_agents() -> dict[str, Spec]:
    """Registered agent names -> specs."""
    return _AGENTS.all()


def list_cost_models() -> dict[str, Spec]:
    """Registered cost-model names -> specs."""
    return _COST_MODELS.all()
