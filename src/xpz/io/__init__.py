"""Reading and writing spectra and catalogues."""
