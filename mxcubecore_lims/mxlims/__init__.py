"""MXLIMS 0.6.13, the MX community's exchange format: models, documents and their JSON Schema.

* :mod:`.logistics`, :mod:`.samples`, :mod:`.jobs`, :mod:`.datasets`,
  :mod:`.datatypes`: pydantic models of the object types (camelCase on the
  wire, closed objects, links as ``$ref`` pointers).
* :mod:`.document`: whole documents, read with every link resolved and
  every problem located by a JSON pointer; written back unchanged.
* :mod:`.schema`: the JSON Schema generated from the models.
* :mod:`.mounts`: the mountable samples of a shipment as MXCuBE lists them.

No mxcubecore import here: documents are read and checked without a beamline.
"""

from mxcubecore_lims.mxlims.document import MODEL_VERSION, MxlimsDocument, load_document, read_document

__all__ = ["MODEL_VERSION", "MxlimsDocument", "load_document", "read_document"]
