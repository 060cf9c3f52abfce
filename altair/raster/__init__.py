"""Every image, raster and vector file read or written: the suffix table (``formats``), the
error family (``errors``), nodata, band rules and reads (``read``), grids and labels placed
on them (``grid``, ``labels``, ``vector``), window sources for prediction (``sources``),
GeoTIFF / COG / PNG writers (``write``) and mosaics (``mosaic``).

Below ``datasets``, ``inference`` and ``predict``; imports only ``errors`` and ``fileio``.
"""
