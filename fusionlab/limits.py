"""The lab's input limits, in one place (docs/serving.md lists them).

A file is checked against them before it is read whole: an ``.npz``'s members from their zip
and ``.npy`` headers (no decompression), a CSV's width from its header line and its rows from
its newlines, a parquet file's from its footer metadata.
"""
MAX_FILE_BYTES = 64 * 2**20  # 64 MiB: an upload, or a --file (matches server.maxUploadSize)
MAX_CELLS = 25_000_000  # numbers in all modalities together, after decompression
MAX_DECOMPRESSED_BYTES = 256 * 2**20  # an .npz's members, uncompressed
MAX_COLUMNS = 20_000  # CSV / parquet
MAX_ROWS = 1_000_000  # CSV / parquet
MAX_PERMUTATIONS = 100_000  # broken-Q permutations K
# a run bundle's members (checked as they decompress, whatever the zip's directory says)
MAX_CONFIG_BYTES = 2**20  # config.json
MAX_TABLE_BYTES = 64 * 2**20  # one table's CSV
MAX_TABLE_COLUMNS = 1_000  # the lab's own tables have a few dozen
MAX_TABLE_ROWS = 2_000_000
MAX_CONFIG_ITEMS = 256  # a list or object in a bundle's config (its noise levels, its fusions...)
MAX_LEVELS = 100  # noise levels of one robustness curve (each is a pass over the test set per modality)
MAX_WIDTH = 4096  # a model's encoder, fusion and head widths
