"""eco_widget: short videos from text with Wan2.1 T2V 1.3B through the Ecohash video API."""
