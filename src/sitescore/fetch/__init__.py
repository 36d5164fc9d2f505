"""`sitescore fetch`: download the catalog's official public files into data/raw/<dataset>/.

Planning (`plan_fetch`) picks, per dataset, the smallest official source that covers the study
area: per-state extracts for --states, a feature service queried by state or box envelope, the
1 x 1 degree tiles under the area for tiled products (3DEP), else the national file. Mirrors and
archives stand behind every planned file and are tried in order when the primary fails.

Transfer (`run_fetch`) uses `requests` with a urllib3 `Retry` (exponential back-off on connect
errors, 429 and 5xx, Retry-After honoured) and a timeout on every request. A file is streamed into
`<target>.part` (its URL and validator beside it in `<target>.part.json`); when the connection is
cut the part is kept and the transfer resumes with `Range: bytes=N-` (and `If-Range`), appending
if the server answers 206 and starting over cleanly if it answers 200, both within the run and on
the next fetch. Only a verified file (sha256 from the catalog, else its published size, else at
least the Content-Length) is renamed into place; a file failing verification is deleted. Redirects
are followed one at a time and only to the same host or a host the dataset's catalog entry names
(its URLs, homepage and `redirect_hosts`), never from https down to http. Each download has a
wall-clock deadline and, after a grace period, a minimum average rate (DEFAULT_DEADLINE,
DEFAULT_MIN_RATE; SITESCORE_FETCH_DEADLINE and SITESCORE_FETCH_MIN_RATE set them): a server
trickling bytes ends in a clear error and the part is kept for the next fetch to resume. Archives
marked `unzip` are checked member by member before anything is extracted (no absolute paths, no
`..`, no links, no member over a size limit, at most MAX_MEMBERS members, no member nor archive
unpacking more than MAX_RATIO times its packed size past RATIO_FLOOR_BYTES, room on the disk),
extracted into a hidden folder counting the bytes really written, and renamed into place; the
manifest records the main extracted item (a .gdb, a .shp, ...) with the archive's sha256.
ArcGIS REST layers are paged through `/query` (f=geojson, resultOffset/resultRecordCount up to the
layer's maxRecordCount) into one GeoJSON FeatureCollection, checked against the service's own
count; Census API answers (a JSON array of rows) are written as CSV in the API's layout.

Every file kept gets a manifest entry (datastore.record); a file already in the manifest whose
checksum still matches is not downloaded again.

The package is split along those steps, each module importing only the ones before it: `report`
(FetchResult, FetchReport, FetchError), `http` (session, retries, redirects, the per-download
budget of deadline and minimum rate), `plan` (Download, Plan, plan_fetch, state boxes, 3DEP
tiles, envelopes, describe_plan, probe_sizes), `download` (resumable file downloads, verification),
`archive` (check_members, the zip limits, extraction), `services` (ArcGIS, Census API) and `run`
(run_fetch, the per-dataset lock, the manifest). The limits re-exported here are read by the
module that defines them: to change one at run time, set it on that module
(`sitescore.fetch.http.MIN_RATE_GRACE`), not here.
"""

from __future__ import annotations

from .archive import (
    FREE_SPACE_RESERVE_BYTES,
    MAX_ARCHIVE_BYTES,
    MAX_MEMBER_BYTES,
    MAX_MEMBERS,
    MAX_RATIO,
    RATIO_FLOOR_BYTES,
    UnsafeArchive,
    check_members,
)
from .http import (
    CHUNK,
    DEADLINE_ENV,
    DEFAULT_DEADLINE,
    DEFAULT_MIN_RATE,
    DEFAULT_TIMEOUT,
    MAX_REDIRECTS,
    MIN_RATE_ENV,
    MIN_RATE_GRACE,
    RETRY_STATUS,
    USER_AGENT,
    make_session,
    redirect_problem,
)
from .plan import (
    ALL_STATES,
    STATE_BBOX,
    TERRITORIES,
    Download,
    Plan,
    describe_plan,
    envelope_query,
    plan_fetch,
    probe_sizes,
    states_touching,
    tiles_covering,
)
from .report import FetchError, FetchReport, FetchResult
from .run import run_fetch
from .services import ARCGIS_DEFAULT_PAGE, ARCGIS_EMPTY_PAGES

__all__ = ["ALL_STATES", "ARCGIS_DEFAULT_PAGE", "ARCGIS_EMPTY_PAGES", "CHUNK", "DEADLINE_ENV",
           "DEFAULT_DEADLINE", "DEFAULT_MIN_RATE", "DEFAULT_TIMEOUT", "FREE_SPACE_RESERVE_BYTES",
           "MAX_ARCHIVE_BYTES", "MAX_MEMBERS", "MAX_MEMBER_BYTES", "MAX_RATIO", "MAX_REDIRECTS",
           "MIN_RATE_ENV", "MIN_RATE_GRACE", "RATIO_FLOOR_BYTES", "RETRY_STATUS", "STATE_BBOX",
           "TERRITORIES", "USER_AGENT", "Download", "FetchError", "FetchReport", "FetchResult",
           "Plan", "UnsafeArchive", "check_members", "describe_plan", "envelope_query",
           "make_session", "plan_fetch", "probe_sizes", "redirect_problem", "run_fetch",
           "states_touching", "tiles_covering"]
