"""DICOM: decoding projection radiographs, their header, the Storage SCP, de-identified export.

No TensorFlow and no Django models are imported here at package level: the web validator, the
worker and the listener all use ``inference.dicom``.
"""
