"""PostGIS as a source of layers and a destination for results.

A layer may come from a table or from a query instead of a file::

    layers:
      federal_land:
        reader: padus
        postgis: {url: "postgresql://gis@db.example.org:5432/gis", table: padus.fee}
      lines:
        reader: hifld_transmission_lines
        postgis:
          url: "postgresql://gis@/gis?host=/var/run/postgresql"
          sql: "SELECT * FROM hifld.lines WHERE status = 'IN SERVICE'"

The provider's own columns come back unchanged, so the registered readers map fields exactly as
they do for files; only the rows in the study area's box are fetched (the box is computed as for
files and compared with the geometry in SQL, so a GiST index is used).

Results may be written as well (``outputs.postgis``): sites, cells and excluded land, in
EPSG:5070, in one transaction, so readers of the database never see half a run.

Passwords are best left out of the URL: libpq reads PGPASSWORD and ~/.pgpass. Where one is given
it never appears in a message or in the run manifest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator, model_validator

from .errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    from sqlalchemy.engine import Connection, Engine

    from .study_area import StudyArea

#: What a table, schema or column name may be: a plain SQL identifier (letters, digits, _ and $;
#: not starting with a digit), at most 63 bytes as PostgreSQL keeps them.
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
MAX_IDENTIFIER_BYTES = 63
#: The driver names accepted in a URL; all connect through psycopg 3.
_SCHEMES = {"postgresql", "postgres", "postgresql+psycopg"}
#: CRS of everything sitescore writes.
OUTPUT_SRID = 5070
CONNECT_TIMEOUT_S = 10


def check_identifier(name: str, what: str = "name") -> str:
    """`name` if it is a plain SQL identifier, else ValueError (nothing else ever reaches SQL)."""
    if not isinstance(name, str) or not IDENTIFIER.match(name) \
            or len(name.encode()) > MAX_IDENTIFIER_BYTES:
        raise ValueError(f"{what} {name!r} is not a plain SQL identifier (letters, digits, _ and $, "
                         f"not starting with a digit, at most {MAX_IDENTIFIER_BYTES} bytes)")
    return name


def _table_parts(table: str) -> tuple[str | None, str]:
    """'schema.table' or 'table', each part checked."""
    parts = table.split(".")
    if len(parts) > 2:
        raise ValueError(f"table {table!r} is not 'table' or 'schema.table'")
    for p in parts:
        check_identifier(p, "table")
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def safe_url(url: str) -> str:
    """The URL with any password replaced by ***, for messages and manifests."""
    try:
        from urllib.parse import unquote

        from sqlalchemy.engine import make_url
        # unquoted so a socket folder reads as written (?host=/run/postgresql)
        return unquote(make_url(url).render_as_string(hide_password=True))
    except Exception:  # unparseable: mask whatever sits between ':' and '@' after the scheme
        masked = re.sub(r"(//[^:/@?#]*:)[^@/?#]*@", r"\1***@", str(url))
        return re.sub(r"(password=)[^&]*", r"\1***", masked, flags=re.IGNORECASE)


#: The libraries PostGIS layers and outputs need; they come with the `postgis` extra.
DRIVER_MODULES = ("sqlalchemy", "psycopg", "geoalchemy2")


def require_driver() -> None:
    """ValueError naming the extra when a PostGIS library is not installed: files-only users
    need none of them, so they are not core dependencies."""
    import importlib.util

    missing = [m for m in DRIVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f"PostGIS needs {', '.join(missing)}, which are not installed; "
                         "install them with: pip install 'sitescore[postgis]'")


def _check_url(url: str) -> str:
    require_driver()
    from sqlalchemy.engine import make_url
    try:
        parsed = make_url(url)
    except Exception:
        raise ValueError(f"not a database URL: {safe_url(url)} (expected "
                         "postgresql://user@host:port/database)") from None
    if parsed.drivername not in _SCHEMES:
        raise ValueError(f"URL must start with postgresql:// (got {parsed.drivername}://)")
    if not parsed.database:
        raise ValueError("URL names no database (postgresql://user@host:port/DATABASE)")
    return url


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PostgisSource(_Strict):
    """A layer read from PostGIS: a table (or view) or a query, with its geometry column."""

    url: str = Field(description="postgresql://user@host:port/database, or "
                                 "postgresql://user@/database?host=/socket/dir; the password is "
                                 "best left to PGPASSWORD or ~/.pgpass.")
    table: str | None = Field(None, description="Table or view, 'name' or 'schema.name'.")
    sql: str | None = Field(None, description="A SELECT whose rows are the layer (used as a "
                                              "subquery; the study-area filter is added around it).")
    geometry_column: str = Field("geom", description="The geometry column.")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_url(v)

    @field_validator("table")
    @classmethod
    def _table(cls, v: str | None) -> str | None:
        if v is not None:
            _table_parts(v)
        return v

    @field_validator("geometry_column")
    @classmethod
    def _geom(cls, v: str) -> str:
        return check_identifier(v, "geometry_column")

    @field_validator("sql")
    @classmethod
    def _sql(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = v.strip().rstrip(";").strip()
        if not v:
            raise ValueError("sql is empty")
        if ";" in v:
            raise ValueError("sql must be a single SELECT (no ';')")
        return v

    @model_validator(mode="after")
    def _one_of(self) -> PostgisSource:
        if (self.table is None) == (self.sql is None):
            raise ValueError("postgis needs exactly one of 'table' or 'sql'")
        return self

    @field_serializer("url")
    def _hide_password(self, url: str) -> str:
        return safe_url(url)

    @property
    def label(self) -> str:
        """Stands in for a file path in messages: 'postgis:<table>' or 'postgis:(sql)'."""
        return f"postgis:{self.table}" if self.table else "postgis:(sql)"

    def record(self) -> dict[str, Any]:
        """What the run manifest says about this input (never the password)."""
        rec: dict[str, Any] = {"url": safe_url(self.url), "geometry_column": self.geometry_column}
        rec["table" if self.table else "sql"] = self.table or self.sql
        return rec


class PostgisOutput(_Strict):
    """Where results are written in PostGIS: tables <prefix>sites, <prefix>cells,
    <prefix>excluded in `schema`, replaced on every run."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True,
                              serialize_by_alias=True)

    url: str = Field(description="postgresql://user@host:port/database (see layers' postgis.url).")
    db_schema: str = Field("sitescore", alias="schema", description="Schema for the tables "
                                                                     "(created if missing).")
    prefix: str = Field("", description="Prefix of the table names, e.g. 'nm_' -> nm_sites.")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_url(v)

    @field_validator("db_schema")
    @classmethod
    def _schema(cls, v: str) -> str:
        return check_identifier(v, "schema")

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if v:
            check_identifier(v + "sites", "prefix")
        return v

    @field_serializer("url")
    def _hide_password(self, url: str) -> str:
        return safe_url(url)


# --- connections ---------------------------------------------------------------------------

def _engine(url: str) -> Engine:
    try:
        require_driver()
    except ValueError as exc:
        raise DataError(str(exc), file=safe_url(url)) from None
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    parsed = make_url(url).set(drivername="postgresql+psycopg")
    # NullPool: nothing stays connected after a read, so a server can be stopped at any time
    return create_engine(parsed, poolclass=NullPool,
                         connect_args={"connect_timeout": CONNECT_TIMEOUT_S})


def _message(exc: BaseException, url: str) -> str:
    """The driver's first useful line, without the password even if a server echoed it."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    line = lines[0] if lines else type(orig).__name__
    line = re.sub(r"\s+", " ", line)
    try:
        from sqlalchemy.engine import make_url
        password = make_url(url).password
    except Exception:
        password = None
    if password:
        line = line.replace(str(password), "***")
    return line


def _connect_error(exc: BaseException, url: str) -> DataError:
    return DataError(f"cannot connect to PostGIS ({_message(exc, url)})", file=safe_url(url))


def _connect(engine: Engine, url: str) -> Connection:
    try:
        return engine.connect()
    except Exception as exc:
        raise _connect_error(exc, url) from None


def _quote_table(conn: Connection, table: str) -> str:
    schema, name = _table_parts(table)
    q = conn.dialect.identifier_preparer.quote_identifier
    return f"{q(schema)}.{q(name)}" if schema else q(name)


# --- reading -------------------------------------------------------------------------------

def read_postgis_layer(src: PostgisSource, area: StudyArea | None = None) -> gpd.GeoDataFrame:
    """The rows of a PostGIS table or query, with the provider's own columns, only those whose
    geometry meets the study area's box (a DataError naming the URL, never the password, when the
    server, table or column is not there)."""
    import geopandas as gpd
    import psycopg
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    where = safe_url(src.url)
    engine = _engine(src.url)
    conn = _connect(engine, src.url)
    try:
        # reading a layer can never change the database, whatever the configured SQL says
        conn.execute(text("SET TRANSACTION READ ONLY"))
        q = conn.dialect.identifier_preparer.quote_identifier
        if src.table is not None:
            found = conn.execute(text("SELECT to_regclass(:name) IS NOT NULL"),
                                 {"name": _quote_table(conn, src.table)}).scalar()
            if not found:
                raise DataError(f"table '{src.table}' not found", file=where)
            inner = _quote_table(conn, src.table)
        else:  # the configured SQL as written: its colons are no bind parameters
            inner = "(" + str(src.sql).replace(":", "\\:") + ")"
        columns = _columns(conn, inner, src, where)
        if src.geometry_column not in columns:
            raise DataError(f"no geometry column '{src.geometry_column}' (columns: "
                            f"{', '.join(columns)}); set postgis.geometry_column", file=where,
                            field=src.geometry_column)
        geom = q(src.geometry_column)
        srid = _srid(conn, src, inner, geom, where)
        crs = _crs(conn, srid, where) if srid else None
        query = f"SELECT * FROM {inner} AS _layer"
        params: dict[str, Any] = {}
        bounds = area.bounds_in(crs) if (area is not None and crs is not None) else None
        if bounds is not None and srid is not None:
            query += f" WHERE ST_Intersects(_layer.{geom}, ST_MakeEnvelope(:w, :s, :e, :n, :srid))"
            params = dict(zip(("w", "s", "e", "n"), map(float, bounds), strict=True), srid=int(srid))
        try:
            gdf = gpd.read_postgis(text(query), conn, geom_col=src.geometry_column, crs=crs,
                                   params=params)
        except (SQLAlchemyError, psycopg.Error) as exc:
            raise DataError(f"cannot read features ({_message(exc, src.url)})", file=where) from None
    except (SQLAlchemyError, psycopg.Error) as exc:
        raise DataError(f"query failed ({_message(exc, src.url)})", file=where) from None
    finally:
        conn.close()
        engine.dispose()
    if gdf.crs is None:
        if len(gdf):
            raise DataError(f"geometry column '{src.geometry_column}' has no SRID; cannot place it "
                            "on the map", file=where)
        gdf = gdf.set_crs(f"EPSG:{OUTPUT_SRID}")  # nothing to place: any CRS will do
    return gdf


def _columns(conn: Connection, inner: str, src: PostgisSource, where: str) -> list[str]:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return list(conn.execute(text(f"SELECT * FROM {inner} AS _layer LIMIT 0")).keys())
    except SQLAlchemyError as exc:
        what = "query failed" if src.sql else "cannot read the table"
        raise DataError(f"{what} ({_message(exc, src.url)})", file=where) from None


def _srid(conn: Connection, src: PostgisSource, inner: str, geom: str, where: str) -> int | None:
    """The column's SRID from geometry_columns (Find_SRID) for a table, else from its rows."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    if src.table is not None:
        try:
            with conn.begin_nested():  # a failed lookup must not abort the transaction
                srid = conn.execute(
                    text("SELECT Find_SRID(n.nspname::varchar, c.relname::varchar, :col) "
                         "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                         "WHERE c.oid = to_regclass(:name)"),
                    {"col": src.geometry_column, "name": _quote_table(conn, src.table)}).scalar()
            if srid:
                return int(srid)
        except SQLAlchemyError:
            pass  # not registered (a view, an unconstrained column): look at the rows
    try:
        srid = conn.execute(text(f"SELECT ST_SRID(_layer.{geom}) FROM {inner} AS _layer "
                                 f"WHERE _layer.{geom} IS NOT NULL LIMIT 1")).scalar()
    except SQLAlchemyError as exc:
        raise DataError(f"column '{src.geometry_column}' is not a PostGIS geometry "
                        f"({_message(exc, src.url)})", file=where,
                        field=src.geometry_column) from None
    return int(srid) if srid else None


def _crs(conn: Connection, srid: int, where: str) -> Any:
    """The CRS behind an SRID: 'EPSG:<code>' where spatial_ref_sys says so, else its WKT."""
    from sqlalchemy import text

    row = conn.execute(text("SELECT auth_name, auth_srid, srtext FROM spatial_ref_sys "
                            "WHERE srid = :srid"), {"srid": srid}).first()
    if row is None:
        raise DataError(f"SRID {srid} is not in spatial_ref_sys; cannot place the layer on the map",
                        file=where)
    auth, code, wkt = row
    if auth and str(auth).upper() == "EPSG" and code:
        return f"EPSG:{int(code)}"
    if wkt:
        return wkt
    raise DataError(f"SRID {srid} has no definition in spatial_ref_sys", file=where)


# --- writing -------------------------------------------------------------------------------

def write_postgis(url: str, schema: str, tables: Mapping[str, gpd.GeoDataFrame | None],
                  if_exists: str = "replace") -> list[str]:
    """Write `tables` (name -> GeoDataFrame, in EPSG:5070) into `schema`, all in one
    transaction: either every table is written or the database is left as it was. A None table
    is dropped, so a table a previous run wrote never outlives the run it belonged to.
    Returns the qualified names written."""
    import psycopg
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    check_identifier(schema, "schema")
    for name in tables:
        check_identifier(name, "table")
    if if_exists not in ("replace", "append", "fail"):
        raise ValueError(f"if_exists must be replace, append or fail, not {if_exists!r}")
    where = safe_url(url)
    engine = _engine(url)
    written = []
    try:
        conn = _connect(engine, url)
        try:
            with conn.begin():
                q = conn.dialect.identifier_preparer.quote_identifier
                conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {q(schema)}"))
                for name, gdf in tables.items():
                    if gdf is None:
                        conn.execute(text(f"DROP TABLE IF EXISTS {q(schema)}.{q(name)}"))
                        continue
                    out = gdf if gdf.crs is not None and gdf.crs.to_epsg() == OUTPUT_SRID \
                        else gdf.to_crs(epsg=OUTPUT_SRID)
                    out.to_postgis(name, conn, schema=schema, if_exists=if_exists, index=False)
                    written.append(f"{schema}.{name}")
        finally:
            conn.close()
    except (SQLAlchemyError, psycopg.Error, ValueError) as exc:
        # geopandas COPYs rows through psycopg itself; pandas says ValueError when
        # if_exists='fail' finds the table
        raise DataError(f"cannot write results to PostGIS ({_message(exc, url)})",
                        file=where) from None
    finally:
        engine.dispose()
    return written


def write_results(target: PostgisOutput, cells: gpd.GeoDataFrame, sites: gpd.GeoDataFrame,
                  excluded: gpd.GeoDataFrame | None) -> list[str]:
    """The run's tables (as written to the GeoPackage) into PostGIS: <prefix>sites,
    <prefix>cells and <prefix>excluded (dropped when the run excluded nothing)."""
    from .outputs import _plain

    p = target.prefix
    tables = {f"{p}sites": _plain(sites), f"{p}cells": _plain(cells),
              f"{p}excluded": _plain(excluded) if excluded is not None and len(excluded) else None}
    return write_postgis(target.url, target.db_schema, tables)
