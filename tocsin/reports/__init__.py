"""Reports: the figures that tell how Tocsin and the incidents it holds are doing."""
