"""Workflows: the dict of ``store_workflow`` (and ``store_workflow_step``).

``AbstractOnlineProcessing`` builds ``params_dict`` for a mesh, line or
X-ray centring scan: directories and result files, the scan geometry, the
grid (``dx_mm``, ``steps_x``, ``xOffset``, ...) and, when storing, the
status and the best Dozor score. ``store_workflow`` must answer a 3-tuple
``(workflow_id, workflow_mesh_id, grid_info_id)``; the ids come back in the
same dict for the next call.
"""

from __future__ import annotations

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
    workflow_id: IntOrText | None = legacy("workflow_id")
    """LIMS id of the workflow; set to update an existing one."""
    workflow_type: str | None = legacy("workflow_type")
    """``"MeshScan"``, ``"XrayCentring"`` or ``"LineScan"``."""
    title: str | None = legacy("title")
    """Title, e.g. ``"xray_centring_p_1_#####.cbf (1 - 100)"``."""
    status: str | None = legacy("status")
    """``"Started"``, ``"Success"`` or ``"Failed"``."""
    comments: str | None = legacy("comments")
    """Comments, e.g. ``"Scan lines: 10, frames per line: 10"``."""
    log_file_path: FilePath | None = legacy("log_file_path")
    """Log file."""
    result_file_path: FilePath | None = legacy("result_file_path")
    """Result directory."""
    collection_id: IntOrText | None = legacy("collection_id")
    """LIMS id of the data collection scanned."""
    group_id: IntOrText | None = legacy("group_id")
    """LIMS id of the data collection group."""
    processing_start_time: Timestamp | None = legacy("processing_start_time")
    """Start of processing, ``"%Y-%m-%d %H:%M:%S"``."""

    # --- mesh (ISPyB workflowMeshWS3VO)
    workflow_mesh_id: IntOrText | None = legacy("workflow_mesh_id")
    """LIMS id of the workflow mesh."""
    cartography_path: FilePath | None = legacy("cartography_path")
    """Plot of the mesh results."""
    best_image_id: IntOrText | None = legacy("best_image_id")
    """LIMS id of the best image."""
    best_position_id: IntOrText | None = legacy("best_position_id")
    """LIMS id of the best position."""
    value_1: float | None = legacy("value_1")
    """Mesh result value 1."""
    value_2: float | None = legacy("value_2")
    """Mesh result value 2."""
    value_3: float | None = legacy("value_3")
    """Mesh result value 3."""
    value_4: float | None = legacy("value_4")
    """Mesh result value 4."""
    max_dozor_score: float | None = legacy("max_dozor_score")
    """Best Dozor score of the scan."""
    crystal_size_x: NonNegative | None = legacy("crystal_size_x")
    """Crystal size, horizontal [µm]."""
    crystal_size_y: NonNegative | None = legacy("crystal_size_y")
    """Crystal size, vertical [µm]."""
    crystal_size_z: NonNegative | None = legacy("crystal_size_z")
    """Crystal size, along the beam [µm]."""

    # --- grid (ISPyB gridInfoWS3VO)
    grid_info_id: IntOrText | None = legacy("grid_info_id")
    """LIMS id of the grid."""
    dx_mm: NonNegative | None = legacy("dx_mm")
    """Grid width [mm]."""
    dy_mm: NonNegative | None = legacy("dy_mm")
    """Grid height [mm]."""
    mesh_angle: float | None = legacy("mesh_angle")
    """Rotation angle of the mesh [deg]."""
    steps_x: Count | None = legacy("steps_x")
    """Grid columns."""
    steps_y: Count | None = legacy("steps_y")
    """Grid rows (1 for a line scan)."""
    x_offset: float | None = legacy("xOffset")
    """Horizontal distance between grid cells [mm]."""
    y_offset: float | None = legacy("yOffset")
    """Vertical distance between grid cells [mm]."""
    reversing_rotation: bool | None = legacy("reversing_rotation")
    """Whether lines are scanned back and forth."""

    # --- scan geometry and files (AbstractOnlineProcessing)
    template: str | None = legacy("template")
    """Image file name template."""
    run_number: Count | None = legacy("run_number")
    """Run number."""
    first_image_num: Count | None = legacy("first_image_num")
    """Number of the first image."""
    images_num: Count | None = legacy("images_num")
    """Number of images."""
    lines_num: Count | None = legacy("lines_num")
    """Number of lines."""
    images_per_line: NonNegative | None = legacy("images_per_line")
    """Images per line (a float: ``images_num / lines_num``)."""
    osc_middle: float | None = legacy("osc_midle")
    """Rotation start angle [deg] (the legacy key is misspelt ``osc_midle``)."""
    osc_range: float | None = legacy("osc_range")
    """Rotation range per image [deg]."""
    resolution: NonNegative | None = legacy("resolution")
    """Resolution [Å]; 0 when not set."""
    exp_time: NonNegative | None = legacy("exp_time")
    """Exposure time per image [s]."""
    hare_num: int | None = legacy("hare_num")
    """HARE (pump-probe) number."""
    num_images_per_trigger: Count | None = legacy("num_images_per_trigger")
    """Images per detector trigger."""
    process_root_directory: FilePath | None = legacy("process_root_directory")
    """Processing root directory of the workflow."""
    archive_root_directory: FilePath | None = legacy("archive_root_directory")
    """Archive root directory of the workflow."""
    process_directory: FilePath | None = legacy("process_directory")
    """Processing directory of this step."""
    archive_directory: FilePath | None = legacy("archive_directory")
    """Archive directory of this step."""
    folder_path: FilePath | None = legacy("folder_path")
    """Result folder."""
    snapshot_path: FilePath | None = legacy("snapshot_path")
    """Grid snapshot."""
    html_file_path: FilePath | None = legacy("html_file_path")
    """HTML report."""
    json_file_path: FilePath | None = legacy("json_file_path")
    """JSON report."""
    csv_file_path: FilePath | None = legacy("csv_file_path")
    """CSV of the per-image results."""
