"""Static files with fingerprinted names, also under DEBUG (`make run` collects them first)."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class FingerprintedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Compressed (gzip, brotli) and fingerprinted, whatever DEBUG says.

    Django's manifest storage gives unhashed URLs under DEBUG; `make run` runs with DEBUG on
    (development secrets) yet must serve what production serves, so that a phone on slow data
    keeps each file for a year and a page measured locally weighs what it weighs live."""

    def url(self, name, force=False):
        return super().url(name, force=True)
