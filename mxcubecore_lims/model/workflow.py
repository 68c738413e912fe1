"""Workflows: the dict of ``store_workflow`` (and ``store_workflow_step``).

``AbstractOnlineProcessing`` builds ``params_dict`` for a mesh, line or
X-ray centring scan: directories and result files, the scan geometry, the
grid (``dx_mm``, ``steps_x``, ``xOffset``, ...) and, when storing, the
status and the best Dozor score. ``store_workflow`` must answer a 3-tuple
``(workflow_id, workflow_mesh_id, grid_info_id)``; the ids come back in the
same dict for the next call.
"""

from __future__ import annotations

from typing import Optional

from mxcubecore_lims.model._legacy import (
    Count,
    FilePath,
    IntOrText,
    LegacyModel,
    NonNegative,
    Timestamp,
    legacy,
)

__all__ = ["Workflow"]


class Workflow(LegacyModel):
    """An online-processing workflow with its mesh and grid.

    Example:
        >>> wf = Workflow.from_legacy({"workflow_type": "MeshScan", "xOffset": 0.01})
        >>> wf.x_offset
        0.01
    """

    # --- workflow (ISPyB workflow3VO)
    workflow_id: Optional[IntOrText] = legacy("workflow_id")
    """LIMS id of the workflow; set to update an existing one."""
    workflow_type: Optional[str] = legacy("workflow_type")
    """``"MeshScan"``, ``"XrayCentring"`` or ``"LineScan"``."""
    title: Optional[str] = legacy("title")
    """Title, e.g. ``"xray_centring_p_1_#####.cbf (1 - 100)"``."""
    status: Optional[str] = legacy("status")
    """``"Started"``, ``"Success"`` or ``"Failed"``."""
    comments: Optional[str] = legacy("comments")
    """Comments, e.g. ``"Scan lines: 10, frames per line: 10"``."""
    log_file_path: Optional[FilePath] = legacy("log_file_path")
    """Log file."""
    result_file_path: Optional[FilePath] = legacy("result_file_path")
    """Result directory."""
    collection_id: Optional[IntOrText] = legacy("collection_id")
    """LIMS id of the data collection scanned."""
    group_id: Optional[IntOrText] = legacy("group_id")
    """LIMS id of the data collection group."""
    processing_start_time: Optional[Timestamp] = legacy("processing_start_time")
    """Start of processing, ``"%Y-%m-%d %H:%M:%S"``."""

    # --- mesh (ISPyB workflowMeshWS3VO)
    workflow_mesh_id: Optional[IntOrText] = legacy("workflow_mesh_id")
    """LIMS id of the workflow mesh."""
    cartography_path: Optional[FilePath] = legacy("cartography_path")
    """Plot of the mesh results."""
    best_image_id: Optional[IntOrText] = legacy("best_image_id")
    """LIMS id of the best image."""
    best_position_id: Optional[IntOrText] = legacy("best_position_id")
    """LIMS id of the best position."""
    value_1: Optional[float] = legacy("value_1")
    """Mesh result value 1."""
    value_2: Optional[float] = legacy("value_2")
    """Mesh result value 2."""
    value_3: Optional[float] = legacy("value_3")
    """Mesh result value 3."""
    value_4: Optional[float] = legacy("value_4")
    """Mesh result value 4."""
    max_dozor_score: Optional[float] = legacy("max_dozor_score")
    """Best Dozor score of the scan."""
    crystal_size_x: Optional[NonNegative] = legacy("crystal_size_x")
    """Crystal size, horizontal [µm]."""
    crystal_size_y: Optional[NonNegative] = legacy("crystal_size_y")
    """Crystal size, vertical [µm]."""
    crystal_size_z: Optional[NonNegative] = legacy("crystal_size_z")
    """Crystal size, along the beam [µm]."""

    # --- grid (ISPyB gridInfoWS3VO)
    grid_info_id: Optional[IntOrText] = legacy("grid_info_id")
    """LIMS id of the grid."""
    dx_mm: Optional[NonNegative] = legacy("dx_mm")
    """Grid width [mm]."""
    dy_mm: Optional[NonNegative] = legacy("dy_mm")
    """Grid height [mm]."""
    mesh_angle: Optional[float] = legacy("mesh_angle")
    """Rotation angle of the mesh [deg]."""
    steps_x: Optional[Count] = legacy("steps_x")
    """Grid columns."""
    steps_y: Optional[Count] = legacy("steps_y")
    """Grid rows (1 for a line scan)."""
    x_offset: Optional[float] = legacy("xOffset")
    """Horizontal distance between grid cells [mm]."""
    y_offset: Optional[float] = legacy("yOffset")
    """Vertical distance between grid cells [mm]."""
    reversing_rotation: Optional[bool] = legacy("reversing_rotation")
    """Whether lines are scanned back and forth."""

    # --- scan geometry and files (AbstractOnlineProcessing)
    template: Optional[str] = legacy("template")
    """Image file name template."""
    run_number: Optional[Count] = legacy("run_number")
    """Run number."""
    first_image_num: Optional[Count] = legacy("first_image_num")
    """Number of the first image."""
    images_num: Optional[Count] = legacy("images_num")
    """Number of images."""
    lines_num: Optional[Count] = legacy("lines_num")
    """Number of lines."""
    images_per_line: Optional[NonNegative] = legacy("images_per_line")
    """Images per line (a float: ``images_num / lines_num``)."""
    osc_middle: Optional[float] = legacy("osc_midle")
    """Rotation start angle [deg] (the legacy key is misspelt ``osc_midle``)."""
    osc_range: Optional[float] = legacy("osc_range")
    """Rotation range per image [deg]."""
    resolution: Optional[NonNegative] = legacy("resolution")
    """Resolution [Å]; 0 when not set."""
    exp_time: Optional[NonNegative] = legacy("exp_time")
    """Exposure time per image [s]."""
    hare_num: Optional[int] = legacy("hare_num")
    """HARE (pump-probe) number."""
    num_images_per_trigger: Optional[Count] = legacy("num_images_per_trigger")
    """Images per detector trigger."""
    process_root_directory: Optional[FilePath] = legacy("process_root_directory")
    """Processing root directory of the workflow."""
    archive_root_directory: Optional[FilePath] = legacy("archive_root_directory")
    """Archive root directory of the workflow."""
    process_directory: Optional[FilePath] = legacy("process_directory")
    """Processing directory of this step."""
    archive_directory: Optional[FilePath] = legacy("archive_directory")
    """Archive directory of this step."""
    folder_path: Optional[FilePath] = legacy("folder_path")
    """Result folder."""
    snapshot_path: Optional[FilePath] = legacy("snapshot_path")
    """Grid snapshot."""
    html_file_path: Optional[FilePath] = legacy("html_file_path")
    """HTML report."""
    json_file_path: Optional[FilePath] = legacy("json_file_path")
    """JSON report."""
    csv_file_path: Optional[FilePath] = legacy("csv_file_path")
    """CSV of the per-image results."""
