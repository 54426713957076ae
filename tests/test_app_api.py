"""The app's front doors: every api_name, with its parameters by name, as gradio_client users
and the tests call them. A rename here breaks someone's notebook: change it on purpose only."""
import app

ENDPOINTS = {
    "/activations": ['model', 'image', 'layer', 'scale'],
    "/calculator": ['model_name', 'input_channels', 'input_height', 'input_width', 'depth', 'widen_factor', 'growth_rate', 'reduction', 'bottleneck', 'dropout', 'shortcut', 'pool', 'width', 'downsample', 'num_classes', 'batch_size', 'optimizer', 'dataset'],
    "/cam": ['model', 'image', 'top_k', 'colormap', 'opacity', 'box_mode', 'threshold'],
    "/cam_models": ['model'],
    "/cam_random_example": ['model', 'top_k', 'colormap', 'opacity', 'box_mode', 'threshold'],
    "/cam_redraw": ['top_k', 'colormap', 'opacity', 'box_mode', 'threshold'],
    "/cam_select_model": ['model', 'top_k', 'colormap', 'opacity', 'box_mode'],
    "/cam_upload_checkpoint": ['checkpoint', 'top_k', 'colormap', 'opacity', 'box_mode'],
    "/degradation": ['smoothing'],
    "/degradation_figure": ['seed'],
    "/degradation_position": ['position'],
    "/degradation_replay": ['speed', 'position'],
    "/degradation_stop": [],
    "/gan_preset": ['preset'],
    "/gan_sample": ['generator', 'seed', 'grid_side'],
    "/gan_replay": ['record', 'speed', 'position'],
    "/gan_replay_position": ['record', 'position'],
    "/gan_stop": [],
    "/gan_train": ['model', 'dataset', 'image_size', 'width', 'steps', 'lr', 'clip', 'n_critic', 'seed', 'sample_every'],
    "/gan_upload": ['file'],
    "/inside_models": ['model'],
    "/inside_random_image": ['model', 'layer', 'scale'],
    "/inside_select_model": ['model', 'scale'],
    "/inside_upload_checkpoint": ['checkpoint', 'scale'],
    "/interpolate": ['generator', 'start_seed', 'start_sample', 'end_seed', 'end_sample', 'grid_side', 'mode', 'num_frames'],
    "/landscape": ['plain', 'residual', 'steps', 'span', 'batches', 'seed', 'bn'],
    "/landscape_stop": [],
    "/landscape_upload": ['checkpoint', 'plain', 'residual'],
    "/layer_responses": ['plain', 'residual'],
    "/localisation": ['model', 'box_mode', 'threshold'],
    "/race": ['models', 'dataset', 'image_size', 'budget_kind', 'budget', 'seed'],
    "/race_stop": [],
    "/redraw_1": ['selected_runs', 'smoothing'],
    "/reduction": ['in_channels', 'out_channels', 'kernel_size', 'reduce_channels', 'height', 'width'],
    "/replay": ['record', 'speed', 'position', 'smoothing'],
    "/replay_position": ['record', 'position', 'smoothing'],
    "/report": [],
    "/resume": ['run_name', 'smoothing'],
    "/select_model": ['model_name'],
    "/stop": [],
    "/top_images": ['model', 'layer', 'channel'],
    "/trace": ['model_name', 'input_channels', 'input_height', 'input_width', 'depth', 'widen_factor', 'growth_rate', 'reduction', 'bottleneck', 'dropout', 'shortcut', 'pool', 'width', 'downsample', 'num_classes'],
    "/trace_export": ['model_name', 'input_channels', 'input_height', 'input_width', 'depth', 'widen_factor', 'growth_rate', 'reduction', 'bottleneck', 'dropout', 'shortcut', 'pool', 'width', 'downsample', 'num_classes', 'batch_size'],
    "/train": ['model_name', 'depth', 'widen_factor', 'growth_rate', 'reduction', 'bottleneck', 'dropout', 'shortcut', 'pool', 'width', 'downsample', 'num_classes', 'dataset', 'image_size', 'epochs', 'batch_size', 'optimizer', 'lr', 'momentum', 'weight_decay', 'schedule', 'augment', 'label_smoothing', 'seed', 'train_subset', 'val_fraction', 'smoothing', 'folder_zip', 'cam_timeline', 'probe_index'],
    "/train_recipe": ['recipe'],
}  # fmt: skip


def test_every_endpoint_keeps_its_name_and_its_parameters():
    info = app.demo.get_api_info()["named_endpoints"]
    found = {name: [p["parameter_name"] for p in endpoint["parameters"]] for name, endpoint in info.items()}
    assert found == ENDPOINTS
