"""Data in: readers, validation, CRS, the catalog of layers and versions, the stores."""
