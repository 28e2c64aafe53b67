"""The single exception type of the draw engine."""


class FairdrawError(ValueError):
    """A kit, a file or an argument breaks FAIRDRAW-1.

    The message is meant for a human (an operator or an auditor): it names the file and, for
    text files, the 1-based line number, and says what is wrong. Code that catches this error
    should show ``str(error)`` as it is.
    """
