"""One typed settings object for every command.

Values come from ``RINGWATCH_*`` environment variables (and the standard ``RAY_ADDRESS`` /
``NEO4J_URI`` / ``NEO4J_USER`` / ``NEO4J_PASSWORD``), else the defaults below. Only the CLI
builds a :class:`Settings`; library code receives it (or plain arguments) and never reads the
environment or argv itself.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_CHECKOUT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Ringwatch configuration.

    Every field can be set with ``RINGWATCH_<FIELD>`` (upper case).
    """

    model_config = SettingsConfigDict(env_prefix="RINGWATCH_", extra="ignore")

    home: Path = Field(
        default=_CHECKOUT / ".home",
        description="All state lives here; inside the checkout and git-ignored so a clone is self-contained.",
    )
    ray_address: str | None = Field(
        default=None,
        validation_alias=AliasChoices("RINGWATCH_RAY_ADDRESS", "RAY_ADDRESS"),
        description="Ray cluster to join; unset starts a local Ray inside the job.",
    )
    ray_num_cpus: int = Field(
        default=2, ge=1, description="CPUs for a local Ray; the reference machine has 2 cores."
    )
    ray_object_store_mb: int = Field(
        default=512, ge=78, description="Local object store size; tasks pass file paths, not data, so it stays small."
    )
    max_bad_fraction: float = Field(
        default=0.01, ge=0.0, le=1.0, description="A build fails past this share of bad rows: 1% means the feed is broken, not noisy."
    )
    build_buckets: int = Field(
        default=16, ge=1, le=4096, description="Hash buckets per build: memory per task ~ events/buckets; keep fixed for incremental builds."
    )
    coaction_window_s: int = Field(
        default=300, ge=1, description="Lockstep window: actions on one target within 5 minutes count as co-action (SynchroTrap uses minutes)."
    )
    coaction_max_actors_per_bucket: int = Field(
        default=200, ge=2, description="Cap on actors per (target, window) so viral targets do not make co-action quadratic."
    )
    coaction_max_neighbors: int = Field(
        default=32, ge=1, description="In crowded windows each actor pairs with this many time neighbours: linear, not quadratic, on hub targets."
    )
    device: str = Field(
        default="auto", description="Torch device: auto picks CUDA when present, else CPU."
    )
    seed: int = Field(default=7, ge=0, le=2**32 - 1, description="Seed for training splits and model init, for reproducible runs.")
    grpc_host: str = Field(default="127.0.0.1", description="Serve on loopback unless asked: scores are sensitive.")
    grpc_port: int = Field(default=50051, ge=0, le=65535, description="The conventional gRPC port; 0 picks a free one.")
    grpc_token: str | None = Field(default=None, description="Bearer token required by the gRPC server when set.")
    grpc_edge: bool = Field(
        default=False, description="Serve through the Go edge (edge/): lookups at Go speed, Python answers the rest behind it."
    )
    edge_binary: Path = Field(
        default=_CHECKOUT / "edge" / "bin" / "ringwatch-edge", description="Where scripts/bootstrap builds the Go edge."
    )
    neo4j_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("RINGWATCH_NEO4J_URI", "NEO4J_URI"),
        description="An existing Neo4j to use instead of the embedded one.",
    )
    neo4j_user: str = Field(
        default="neo4j", validation_alias=AliasChoices("RINGWATCH_NEO4J_USER", "NEO4J_USER"),
        description="Neo4j's built-in admin user.",
    )
    neo4j_password: str | None = Field(
        default=None, validation_alias=AliasChoices("RINGWATCH_NEO4J_PASSWORD", "NEO4J_PASSWORD"),
        description="Password for NEO4J_URI; the embedded server generates and stores its own.",
    )
    neo4j_bolt_port: int = Field(default=7687, ge=1, le=65535, description="Neo4j's standard Bolt port (the embedded server needs a fixed one).")
    datasets: Path = Field(
        default=(_CHECKOUT.parent / "shared" / "datasets").resolve(),
        description="Labelled evaluation data: the shared folder next to the checkout, read in place, never copied in.",
    )
    keep_versions: int = Field(default=5, ge=1, description="Versions kept per artefact; older ones are pruned after a publish.")
    retain_freed_memory: bool = Field(
        default=True,
        description="Train, score, explain, evaluate and the pipeline reuse the memory they free (glibc keeps it): "
                    "on a VM whose host reclaims free pages, touching fresh memory cost 3-7 s per GiB.",
    )
    huge_pages: bool = Field(
        default=False,
        description="Let NumPy ask for transparent huge pages for large arrays in those commands: on a VM whose "
                    "host reclaims free pages, a fresh huge page cost ten times as much as small pages.",
    )

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        """An absolute home: servers started from it (the JVM runs in its own folder) and processes
        matched by it must read the same paths whatever the caller's working directory."""
        return value.expanduser().absolute()

    @field_validator("datasets", mode="before")
    @classmethod
    def _empty_datasets_is_unset(cls, value: object) -> object:
        """``RINGWATCH_DATASETS=`` (empty) means the default, not the working directory."""
        return cls.model_fields["datasets"].default if value in ("", None) else value

    def ensure_home(self) -> Path:
        """Create the home directory if needed and return it."""
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home
